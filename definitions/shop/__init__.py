"""A shop: orders, their lines, products, categories and customers."""
