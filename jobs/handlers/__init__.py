"""One module per job type; each registers itself with @job_handler."""
