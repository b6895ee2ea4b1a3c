"""The four activity functions. Each is thin: validate input, call one provider, return a contract."""
