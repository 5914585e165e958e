"""baton inside coding agents: the MCP server (``baton mcp``), the finish hooks and the
plugins ``baton integrate`` writes. Sits right below the CLI; calls the library, never a
subprocess of baton."""
