"""Plain HTTP endpoints: file_stream, file transfer, health."""
