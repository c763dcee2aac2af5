"""The messenger: conversations, their members and teams, messages (group commit), read
positions, notifications and preferences."""
