"""Files in conversations: upload (scan, sealing, thumbnails), download, and their upkeep."""
