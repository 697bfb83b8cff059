"""A library: books, authors three references deep, and text handling."""
