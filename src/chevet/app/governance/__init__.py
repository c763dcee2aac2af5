"""What the DPO answers for: the audit trail, retention and purge, the data subject's rights
(GDPR) and the sobriety dashboard."""
