"""The app side of the pipeline and the raw event log it writes."""
