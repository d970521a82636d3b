"""A test extension: the greetings domain and experiment."""
