"""The mdfql language front end: parsing scripts into positioned statements and binding them."""
