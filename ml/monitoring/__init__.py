"""What watches the system: online prediction logs and the health of each guarded stage."""
