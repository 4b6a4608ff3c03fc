"""The resource tracker: race-free PMEM claims computed from the database."""
