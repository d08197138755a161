"""Personal data: anonymising what is past retention, erasure and export on request."""
