"""Exchanges with the MSSanté trust space: the health directory, outbound mail (the outbox),
inbound mail and its quarantine, receipts and the documents they carry."""
