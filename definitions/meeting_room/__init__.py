"""The meeting room: meetings, their location, and who attends."""
