# numpy of the ulab build without scipy: never used by the fallback path.
float = 102
