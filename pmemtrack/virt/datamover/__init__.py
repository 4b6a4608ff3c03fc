"""The data mover: a move's namespaces copied into their new ones with daxio,
over SSH to another host or through a pipe on this one, and proven by
checksums. Both drivers use it, pmemtrack's own and the one nova-compute loads.

``mover.copy_namespaces`` (or ``copy_namespaces_conf``, from the
``[migration]`` options) is the one entry point: it copies every pair of a
move, ``parallel_streams`` at a time. Imports point one way, from the entry
point down, and no module re-exports another's names: ``mover`` imports
``ssh`` (the connection) and the stream's parts (``daxio_stream``,
``extents``, ``checksum``, ``progress``, ``daxio_report``); those and ``ssh``
import ``remote_process`` (one command on a channel), which imports
``gcm_writer``; ``ssh`` imports ``known_hosts``. ``pairing`` (which old
namespace goes to which new one) stands alone.
"""
