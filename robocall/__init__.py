"""robocall: telephony and SMS contact tracing for district health centres."""
