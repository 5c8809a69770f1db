"""The raw event log as Dagster sees it: the external asset and the sensor that watches it."""
