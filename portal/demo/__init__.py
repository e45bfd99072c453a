"""Demo data for a realistic Chinese service organisation."""
