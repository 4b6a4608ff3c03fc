"""Exceptions that explain themselves.

Each class carries a message template; the keyword arguments that fill it are the
values an operator needs to see what went wrong and what to fix.
"""


class PmemtrackException(Exception):
    msg_fmt = "An unknown error occurred."

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError) as err:
                # A template/argument mismatch must not hide the original problem.
                message = f"{self.msg_fmt} (formatting failed: {err!r}; {kwargs!r})"
        self.message = message
        super().__init__(message)


class NotFound(PmemtrackException):
    msg_fmt = "Resource could not be found."


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_uuid)s could not be found."


class ComputeNodeNotFound(NotFound):
    msg_fmt = "Compute node %(node)s could not be found."


class ComputeNodeExists(PmemtrackException):
    msg_fmt = "Compute node %(host)s/%(node)s already exists."


class MigrationNotFound(NotFound):
    msg_fmt = "Migration %(migration)s could not be found."


class RequestSpecNotFound(NotFound):
    msg_fmt = "No request spec is stored for instance %(instance_uuid)s."


class HostResourceNotFound(NotFound):
    msg_fmt = "Host resource %(resource)s could not be found."


class HostResourceExists(PmemtrackException):
    msg_fmt = (
        "Compute node %(compute_node)s already has a resource named %(identifier)s."
    )


class FlavorNotFound(NotFound):
    msg_fmt = (
        "Flavor %(name)s is not known; known flavors: %(known)s "
        "(pmemtrack-manage flavor create adds one)."
    )


class FlavorExists(PmemtrackException):
    msg_fmt = "A flavor named %(name)s or with id %(flavorid)s already exists."


class QuotaLimitNotFound(NotFound):
    msg_fmt = "Project %(project_id)s has no quota override for %(resource_class)s."


class InvalidQuotaLimit(PmemtrackException):
    msg_fmt = (
        "Quota limit %(limit)s for %(resource_class)s is not valid: use -1 for "
        "unlimited or a whole number from 0 to 2147483647."
    )


class CorruptedBlob(PmemtrackException):
    msg_fmt = (
        "The %(column)s column of instance %(instance_uuid)s cannot be read: "
        "%(reason)s. Nothing was assumed about the namespaces it holds; repair "
        "or restore that row before retrying."
    )


class CorruptedRequestSpec(PmemtrackException):
    msg_fmt = (
        "The stored request spec of instance %(instance_uuid)s cannot be read: "
        "%(reason)s."
    )


class InvalidResourceClass(PmemtrackException):
    msg_fmt = (
        "%(name)r is not a valid resource class: it must match "
        "CUSTOM_[A-Z0-9_]+ (from label %(label)r)."
    )


class UnexpectedTaskStateError(PmemtrackException):
    msg_fmt = (
        "Instance %(instance_uuid)s is busy: another operation holds it "
        "(task_state %(actual)s, expected %(expected)s). Nothing was changed; "
        "retry when it has finished."
    )


class ObjectActionError(PmemtrackException):
    msg_fmt = "Object action %(action)s failed because: %(reason)s"


class _OnNode(PmemtrackException):
    """A message about one compute node: named by its host alone when the
    node is named after it (one node per host, as with libvirt)."""

    def __init__(self, message=None, **kwargs):
        host, node = kwargs.get("host"), kwargs.get("node")
        kwargs["where"] = host if node in (None, host) else f"{host}/{node}"
        super().__init__(message, **kwargs)


class ComputeResourcesUnavailable(_OnNode):
    msg_fmt = (
        "Not enough PMEM namespaces on %(where)s: label %(label)s "
        "(%(resource_class)s) wanted %(wanted)d, %(free)d free."
    )


class PmemLabelUnknown(_OnNode):
    msg_fmt = (
        "Flavor %(flavor)s asks for PMEM label %(label)s (%(resource_class)s), "
        "which %(where)s does not offer; it offers: %(offered)s."
    )


class PmemNumaUnsatisfiable(_OnNode):
    msg_fmt = (
        "No single host NUMA node of %(where)s has the %(wanted)s "
        "namespaces that policy %(policy)s requires; free per NUMA node: %(free)s."
    )


class QuotaExceeded(PmemtrackException):
    msg_fmt = (
        "Quota exceeded for project %(project_id)s on %(resource_class)s: limit "
        "%(limit)d, in use %(usage)d, requested %(requested)d."
    )


class ClaimConflict(PmemtrackException):
    """Another writer changed the node or the project first; retried."""

    msg_fmt = "Generation of %(what)s changed during the claim (expected %(expected)d)."


class ClaimRetriesExhausted(PmemtrackException):
    msg_fmt = (
        "Claim for instance %(instance_uuid)s on %(node)s gave up after %(attempts)d "
        "attempts under contention (last: %(last)s). Raise [resource_tracker] "
        "claim_max_retries if this host sees many concurrent claims."
    )


class InvalidClaim(PmemtrackException):
    msg_fmt = "Cannot %(action)s for instance %(instance_uuid)s: %(reason)s"


# -- the virt driver -----------------------------------------------------------


class CommandFailed(PmemtrackException):
    msg_fmt = "Command %(command)s failed with exit code %(exit_code)s: %(stderr)s"


class CommandTimedOut(CommandFailed):
    msg_fmt = (
        "Command %(command)s did not finish within %(timeout)s seconds and was "
        "killed; raise the matching [pmem] *_timeout option if the device is slow."
    )


class InvalidNamespaceConfig(PmemtrackException):
    msg_fmt = "[pmem] namespaces entry %(entry)r cannot be used: %(reason)s"


class DiscoveryOutputInvalid(PmemtrackException):
    msg_fmt = "Output of %(command)s cannot be read: %(reason)s"


class UndiscoveredDevice(PmemtrackException):
    msg_fmt = (
        "Refusing to run daxio on %(path)s: it is not the device path of a "
        "namespace discovered on this host."
    )


class NamespaceBusy(PmemtrackException):
    msg_fmt = (
        "Namespace %(name)s (%(devpath)s) still has a writer: its write fence "
        "%(fence)s is held (a data copy into it has not ended)."
    )


class InvalidGuestConfig(PmemtrackException):
    msg_fmt = "Cannot build the guest of instance %(instance_uuid)s: %(reason)s"


class HypervisorUnavailable(PmemtrackException):
    msg_fmt = "Cannot reach the hypervisor at %(uri)s: %(reason)s"


class LibvirtPythonMissing(PmemtrackException):
    msg_fmt = (
        "libvirt-python is not installed (%(reason)s): install pmemtrack with "
        "its libvirt extra, pip install 'pmemtrack[libvirt]' (it compiles "
        "against the host's libvirt development files, libvirt-dev)."
    )


class InstanceNotOnHypervisor(NotFound):
    msg_fmt = "Instance %(instance_uuid)s has no domain %(domain)s on the hypervisor."


# -- moves -----------------------------------------------------------------------


class CopyNotPossible(PmemtrackException):
    msg_fmt = (
        "Migration %(migration)s cannot copy PMEM data: %(reason)s. Nothing was "
        "copied; the instance stays where it was."
    )


class CopyNotSupportedByDestination(PmemtrackException):
    msg_fmt = (
        "Destination %(host)s runs service version %(version)s, which cannot "
        "receive PMEM data (needs %(minimum)s or later); upgrade it or move "
        "without copy_pmem_devices. Nothing was changed."
    )


class InvalidMoveRequest(PmemtrackException):
    msg_fmt = "Cannot %(action)s instance %(instance_uuid)s: %(reason)s"


class ComputeHostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s is not known; known hosts: %(known)s."


class HostNotDriven(ComputeHostNotFound):
    msg_fmt = (
        "Compute host %(host)s is not driven here; this deployment drives "
        "%(known)s (a config file lists more in [DEFAULT] compute_hosts)."
    )


class ServerNotFound(NotFound):
    msg_fmt = "No instance has the name or id %(server)s%(detail)s."


# -- copying a namespace's data to another host -------------------------------


class CopyFailed(PmemtrackException):
    msg_fmt = "Copying namespace %(namespace)s to %(destination)s failed: %(reason)s"


class CopyStepFailed(Exception):
    """Why one step of a copy failed (a daxio report, a checksum); the data
    mover turns it into CopyFailed, naming the namespace and destination."""


def text_of(err):
    """The text of ``err``, or its type where it has none."""
    return str(err) or type(err).__name__


# -- SSH to a destination host ----------------------------------------------------


class SSHError(PmemtrackException):
    msg_fmt = "SSH to %(user)s@%(host)s port %(port)s failed: %(reason)s"


class SSHConnectFailed(SSHError):
    msg_fmt = "Cannot connect over SSH to %(user)s@%(host)s port %(port)s: %(reason)s"


class SSHAuthFailed(SSHConnectFailed):
    msg_fmt = (
        "%(user)s@%(host)s port %(port)s did not accept the key %(key_file)s: "
        "%(reason)s. Add its public key to that user's authorized_keys."
    )


class HostKeyRejected(SSHError):
    msg_fmt = (
        "Refusing %(user)s@%(host)s port %(port)s: its host key %(key_type)s "
        "%(fingerprint)s is not in %(known_hosts)s and [migration] "
        "host_key_policy is %(policy)s. Add the host's key to that file."
    )


class HostKeyChanged(HostKeyRejected):
    msg_fmt = (
        "Refusing %(user)s@%(host)s port %(port)s: it presented host key "
        "%(key_type)s %(fingerprint)s but %(known_hosts)s holds %(expected)s for "
        "it. Someone may be intercepting the connection; if the host was "
        "reinstalled, replace its entry in that file."
    )


class SSHConnectionLost(SSHError):
    msg_fmt = (
        "The SSH connection to %(user)s@%(host)s port %(port)s was lost while "
        "running %(command)s: %(reason)s"
    )


class SSHCommandTimedOut(SSHError):
    msg_fmt = (
        "%(command)s on %(user)s@%(host)s port %(port)s made no progress for "
        "%(timeout)s seconds"
    )
