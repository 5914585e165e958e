"""``baton fake-gateway``: serve a scripted OpenAI-compatible API on 127.0.0.1."""

from __future__ import annotations

import click

from baton.cli.common import handle_errors


@click.command("fake-gateway")
@click.option(
    "--script", "script_path", required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="JSON script of the answers to serve (see docs/fake-gateway.md).",
)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on; anything else is refused.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request on stderr.")
@handle_errors
def fake_gateway_cmd(script_path: str, port: int, host: str, verbose: bool) -> None:
    """Serve scripted responses as an OpenAI-compatible API, for tests and offline CI.

    The responses are scripted: nothing here talks to a real model.
    """
    from baton.gateway.server import FakeGateway

    gateway = FakeGateway(script_path, port=port, host=host, verbose=verbose).start()
    click.echo(
        f"fake gateway serving scripted responses at {gateway.base_url} (Ctrl-C to stop)"
    )
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        click.echo("fake gateway stopped", err=True)
    finally:
        gateway.stop()
