"""Mail transport for the MSSanté gateway: SMTP submission, IMAP fetching, an SMTP listener."""
