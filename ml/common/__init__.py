"""What every pipeline shares: where things live, the warehouse, files replaced whole, errors."""
