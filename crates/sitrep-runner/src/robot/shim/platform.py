"""sitrep's RW.platform: the types RW.CLI (rw-cli-keywords) builds on. sitrep runs every
command locally, in the task's sandbox; RunWhen's remote shell services do not exist here."""

# Its one keyword fails: codebundles use its types, through RW.CLI.
__all__ = ["execute_shell_command"]


class Secret:
    """A secret as RW.Core.Import Secret returns it: `.key` and `.value`."""

    def __init__(self, key, val):
        self.key = key
        self._val = val

    @property
    def value(self):
        return self._val

    def __repr__(self):
        return f"Secret(key={self.key!r}, value=*****)"

    __str__ = __repr__


class Service:
    def __init__(self, url=""):
        self.url = url


class ShellServiceRequestSecret:
    def __init__(self, secret, as_file=False):
        self.secret = secret
        self.as_file = as_file


class ShellServiceResponse:
    def __init__(self, cmd="", parsed_cmd=None, stdout="", stderr="", returncode=0,
                 status=200, body="", errors=None):
        self.cmd = cmd
        self.parsed_cmd = parsed_cmd
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
        self.status = status
        self.body = body
        self.errors = errors or []

    @classmethod
    def from_json(cls, data):
        """From RW.CLI's local process record (camelCase `parsedCmd`)."""
        return cls(
            cmd=data.get("cmd", ""),
            parsed_cmd=data.get("parsedCmd", data.get("parsed_cmd")),
            stdout=data.get("stdout", ""),
            stderr=data.get("stderr", ""),
            returncode=data.get("returncode", 0),
            status=data.get("status", 200),
            body=data.get("body", ""),
            errors=data.get("errors"),
        )

    def __repr__(self):
        return (f"cmd: {self.cmd}\nreturncode: {self.returncode}\n"
                f"stdout: {self.stdout}\nstderr: {self.stderr}")

    __str__ = __repr__


def execute_shell_command(cmd, service=None, **kwargs):
    raise RuntimeError(
        f"{cmd!r} asks for RunWhen's remote shell service {getattr(service, 'url', service)!r}; "
        "sitrep runs commands locally only"
    )
