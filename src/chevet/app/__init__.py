"""Application services ("actions"): the only code that changes state.

Each action checks permission, runs in one transaction, writes its audit entry in that same
transaction and publishes realtime events only after commit.
"""
