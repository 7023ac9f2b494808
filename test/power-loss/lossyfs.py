#!/usr/bin/python3
# lossyfs: a FUSE filesystem that forgets, at a simulated power cut, everything that was not
# fsynced. kill -9 keeps the OS page cache, so it cannot show a missing fsync; this can.
#
#   lossyfs.py mount BACKING STATE MOUNTPOINT   serve BACKING at MOUNTPOINT (foreground; prints
#                                               "lossyfs ready" once mounted; stops when
#                                               unmounted with `fusermount3 -u MOUNTPOINT`)
#   lossyfs.py cut BACKING STATE                the power cut: after the unmount, rebuild
#                                               BACKING as a disk would hold it (from STATE)
#   lossyfs.py probe MOUNTPOINT                 exit 0 when this process may mount FUSE: mounts
#                                               an empty FUSE filesystem and unmounts it at once
#
# The model (what survives a cut):
# - Mounting counts as a clean start: everything in BACKING when `mount` starts is durable.
# - File contents are durable as of the file's last fsync or fdatasync (on any descriptor of
#   that file): bytes written or overwritten since then are lost, a size change since then
#   (an append, a truncate, an extension) is undone.
# - Directory entries are strict POSIX: a create, unlink, rename, mkdir or rmdir is durable only
#   once its directory is fsynced (then that directory's whole list of names is). An fsynced
#   file whose name was never made durable is gone after a cut. This is stricter than ext4
#   (where fsync of a new file usually carries its name too); SQLite fsyncs the directory after
#   creating a -wal, and ezra must fsync for anything else it needs to find after a crash.
# - Files and directories are tracked as inodes (an id each), so a rename or an unlink of an
#   open file keeps the right synced content. Mode changes are durable at once; timestamps and
#   owners are not modelled. Symlinks, hard links and device nodes are refused (ENOTSUP).
#
# STATE holds what a disk would hold: data/<id> is each file's content as of its last fsync
# (dirty byte ranges are copied there at fsync), and names.json each directory's entries as
# of its last fsync. BACKING is what the running system sees (the page cache, in effect).
#
# SQLite's WAL mode works on it: the filesystem runs in FUSE's page-cache mode (no direct_io),
# where the kernel supports shared writable mmap, so SQLite can map the -shm file (with
# direct_io, kernels before 6.6 refuse MAP_SHARED). Dirty mmap pages reach write() here when
# the kernel writes them back; -shm is never fsynced, so after a cut it is as of the mount,
# which SQLite handles (the first connection rebuilds the wal-index from the -wal). POSIX and
# flock locks are not implemented here, so the kernel keeps them locally: correct for
# processes on this machine. libfuse 2's default writes are 4 KiB; big_writes lets SQLite's
# larger writes through in one request.
#
# Needs Debian's fuse3 (fusermount3) and python3-fusepy (module `fusepy`, over libfuse2), and
# permission to mount FUSE (root, or /dev/fuse and fusermount3 for a user).
import errno
import json
import os
import shutil
import stat
import sys
import threading

NOT_SUPPORTED = errno.ENOTSUP
ROOT_ID = 0


def write_json_atomically(path, value):
    # The state file itself must never be half-written: a crash of this daemon must not look
    # like a power cut that the model does not allow.
    partial = path + ".partial"
    with open(partial, "w") as out:
        json.dump(value, out)
    os.replace(partial, path)


class Durable:
    """What a disk would hold: synced file contents (STATE/data/<id>) and synced directory lists."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.data_dir = os.path.join(state_dir, "data")
        self.names_path = os.path.join(state_dir, "names.json")
        # directory id -> {name: ["f" | "d", id]}, as of that directory's last fsync
        self.entries = {}
        self.modes = {}  # file id -> permission bits

    def data_path(self, ident):
        return os.path.join(self.data_dir, str(ident))

    def save(self):
        write_json_atomically(
            self.names_path,
            {"entries": {str(k): v for k, v in self.entries.items()}, "modes": {str(k): v for k, v in self.modes.items()}},
        )

    def load(self):
        with open(self.names_path) as f:
            saved = json.load(f)
        self.entries = {int(k): v for k, v in saved["entries"].items()}
        self.modes = {int(k): v for k, v in saved["modes"].items()}


class DirtyRanges:
    """Byte ranges of one file written since its last fsync, and the lowest size it was cut to."""

    def __init__(self):
        self.ranges = []
        self.truncated_to = None

    def add(self, start, end):
        if self.ranges and self.ranges[-1][1] == start:
            self.ranges[-1][1] = end  # sequential writes (a WAL append) stay one range
        else:
            self.ranges.append([start, end])
            if len(self.ranges) > 4096:
                # A file written often and never synced (SQLite's -shm): keep the list short.
                self.ranges = self.clipped(1 << 62)

    def truncate(self, size):
        self.truncated_to = size if self.truncated_to is None else min(self.truncated_to, size)

    def clipped(self, size):
        """Merged ranges within [0, size): what must be copied to make the synced copy equal the live file."""
        ranges = list(self.ranges)
        if self.truncated_to is not None and self.truncated_to < size:
            ranges.append([self.truncated_to, size])  # a cut-and-regrown tail reads as live bytes or zeros
        merged = []
        for start, end in sorted(ranges):
            start, end = max(0, start), min(end, size)
            if start >= end:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return merged


def snapshot(backing, durable):
    """Mount time: BACKING as it is now is the durable state (as after a clean shutdown)."""
    shutil.rmtree(durable.data_dir, ignore_errors=True)
    os.makedirs(durable.data_dir)
    live_ids = {"/": ("d", ROOT_ID)}
    next_id = ROOT_ID + 1
    durable.entries = {}
    durable.modes = {}
    pending = [("/", ROOT_ID)]
    while pending:
        path, dir_id = pending.pop()
        listing = {}
        full_dir = os.path.join(backing, path.lstrip("/"))
        for name in sorted(os.listdir(full_dir)):
            child = os.path.join(path, name)
            full = os.path.join(full_dir, name)
            st = os.lstat(full)
            ident = next_id
            next_id += 1
            if stat.S_ISDIR(st.st_mode):
                listing[name] = ["d", ident]
                live_ids[child] = ("d", ident)
                pending.append((child, ident))
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(full, durable.data_path(ident))
                listing[name] = ["f", ident]
                durable.modes[ident] = stat.S_IMODE(st.st_mode)
                live_ids[child] = ("f", ident)
            else:
                raise SystemExit(f"lossyfs: {full} is neither a file nor a directory; only those are modelled")
        durable.entries[dir_id] = listing
    durable.save()
    return live_ids, next_id


def cut(backing, state_dir):
    """The power cut: empty BACKING and rebuild it from the durable state."""
    durable = Durable(state_dir)
    durable.load()
    for name in os.listdir(backing):
        full = os.path.join(backing, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    seen = set()  # a directory made durable under two names (a synced rename) is built once

    def build(dir_id, full_dir):
        seen.add(dir_id)
        for name, (kind, ident) in sorted(durable.entries.get(dir_id, {}).items()):
            full = os.path.join(full_dir, name)
            if kind == "d":
                if ident in seen:
                    continue
                os.mkdir(full)
                build(ident, full)
            else:
                shutil.copyfile(durable.data_path(ident), full)
                os.chmod(full, durable.modes.get(ident, 0o644))

    build(ROOT_ID, backing)


def probe(mountpoint):
    """Mount permission only: libfuse's own mount and unmount, with no filesystem behind them."""
    import ctypes

    import fusepy

    class FuseArgs(ctypes.Structure):
        _fields_ = [("argc", ctypes.c_int), ("argv", ctypes.POINTER(ctypes.c_char_p)), ("allocated", ctypes.c_int)]

    lib = fusepy._libfuse
    lib.fuse_mount.restype = ctypes.c_void_p
    lib.fuse_mount.argtypes = [ctypes.c_char_p, ctypes.POINTER(FuseArgs)]
    lib.fuse_unmount.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    channel = lib.fuse_mount(mountpoint.encode(), ctypes.byref(FuseArgs(0, None, 0)))
    if not channel:
        return 1
    lib.fuse_unmount(mountpoint.encode(), channel)
    return 0


def serve(backing, state_dir, mountpoint):
    from fusepy import FUSE, FuseOSError, Operations

    durable = Durable(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    live_ids, first_free_id = snapshot(backing, durable)

    class LossyFS(Operations):
        use_ns = True
        # Operations on an open file get its handle even after its name is gone (hard_remove).
        flag_nullpath_ok = True

        def __init__(self):
            # Not `self.lock`: fusepy treats an attribute named lock as the POSIX-lock operation.
            self.mutex = threading.Lock()
            self.live = live_ids  # path -> ("f" | "d", id): the names the running system sees
            self.next_id = first_free_id
            self.handle_ids = {}  # open file handle (a backing fd) -> file id
            self.dirty = {}  # file id -> DirtyRanges since its last fsync
            self.synced_fds = {}  # file id -> fd of STATE/data/<id>

        def full(self, path):
            return os.path.join(backing, path.lstrip("/"))

        def new_id(self):
            ident = self.next_id
            self.next_id += 1
            return ident

        def dirty_of(self, ident):
            ranges = self.dirty.get(ident)
            if ranges is None:
                ranges = self.dirty[ident] = DirtyRanges()
            return ranges

        def synced_fd(self, ident):
            fd = self.synced_fds.get(ident)
            if fd is None:
                fd = self.synced_fds[ident] = os.open(durable.data_path(ident), os.O_RDWR | os.O_CREAT, 0o600)
            return fd

        # --- reading: straight through -------------------------------------------------------

        def getattr(self, path, fh=None):
            st = os.fstat(fh) if fh is not None else os.lstat(self.full(path))
            keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks", "st_blksize", "st_ino", "st_dev")
            attrs = {key: getattr(st, key) for key in keys}
            attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
            return attrs

        def access(self, path, amode):
            if not os.access(self.full(path), amode):
                raise FuseOSError(errno.EACCES)

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self.full(path))

        def read(self, path, size, offset, fh):
            return os.pread(fh, size, offset)

        def statfs(self, path):
            sv = os.statvfs(self.full(path))
            keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
            return {key: getattr(sv, key) for key in keys}

        # --- file contents: live at once, durable at fsync -----------------------------------

        def open(self, path, flags):
            with self.mutex:
                kind, ident = self.live[path]
                # Read access too: fsync copies dirty ranges from this handle, and the kernel
                # may read pages through a write-only handle for an mmap.
                if flags & os.O_ACCMODE == os.O_WRONLY:
                    flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
                fd = os.open(self.full(path), flags & ~(os.O_CREAT | os.O_EXCL | os.O_APPEND))
                if flags & os.O_TRUNC:
                    self.dirty_of(ident).truncate(0)
                self.handle_ids[fd] = ident
                return fd

        def create(self, path, mode, fi=None):
            with self.mutex:
                fd = os.open(self.full(path), os.O_RDWR | os.O_CREAT, mode)
                known = self.live.get(path)
                if known is not None:
                    ident = known[1]
                else:
                    ident = self.new_id()
                    self.live[path] = ("f", ident)
                    self.synced_fd(ident)  # never synced yet: durable content is empty
                    durable.modes[ident] = stat.S_IMODE(mode)
                self.handle_ids[fd] = ident
                return fd

        def write(self, path, data, offset, fh):
            with self.mutex:
                written = os.pwrite(fh, data, offset)
                self.dirty_of(self.handle_ids[fh]).add(offset, offset + written)
                return written

        def truncate(self, path, length, fh=None):
            with self.mutex:
                if fh is not None:
                    ident = self.handle_ids[fh]
                    os.ftruncate(fh, length)
                else:
                    ident = self.live[path][1]
                    os.truncate(self.full(path), length)
                self.dirty_of(ident).truncate(length)

        def fsync(self, path, datasync, fh):
            # fsync and fdatasync alike: the file's bytes and size become durable.
            with self.mutex:
                ident = self.handle_ids[fh]
                ranges = self.dirty.pop(ident, None)
                if ranges is None:
                    return 0
                size = os.fstat(fh).st_size
                target = self.synced_fd(ident)
                os.ftruncate(target, size)
                for start, end in ranges.clipped(size):
                    offset = start
                    while offset < end:
                        chunk = os.pread(fh, min(end - offset, 1 << 20), offset)
                        if not chunk:
                            break
                        os.pwrite(target, chunk, offset)
                        offset += len(chunk)
                return 0

        def flush(self, path, fh):
            return 0

        def release(self, path, fh):
            with self.mutex:
                self.handle_ids.pop(fh, None)
                os.close(fh)

        def chmod(self, path, mode):
            os.chmod(self.full(path), mode)
            kind, ident = self.live[path]
            if kind == "f":
                durable.modes[ident] = stat.S_IMODE(mode)

        def chown(self, path, uid, gid):
            os.chown(self.full(path), uid, gid)

        def utimens(self, path, times=None):
            os.utime(self.full(path), ns=times)

        # --- names: live at once, durable when their directory is fsynced --------------------

        def mkdir(self, path, mode):
            with self.mutex:
                os.mkdir(self.full(path), mode)
                self.live[path] = ("d", self.new_id())

        def unlink(self, path):
            with self.mutex:
                os.unlink(self.full(path))
                del self.live[path]

        def rmdir(self, path):
            with self.mutex:
                os.rmdir(self.full(path))
                del self.live[path]

        def rename(self, old, new):
            with self.mutex:
                os.rename(self.full(old), self.full(new))
                moved = {p: v for p, v in self.live.items() if p == old or p.startswith(old + "/")}
                for p in moved:
                    del self.live[p]
                for p in [p for p in self.live if p == new or p.startswith(new + "/")]:
                    del self.live[p]  # a replaced target (rename over an existing name)
                for p, v in moved.items():
                    self.live[new + p[len(old):]] = v

        def fsyncdir(self, path, datasync, fh):
            with self.mutex:
                prefix = path.rstrip("/") + "/"
                listing = {}
                for name in os.listdir(self.full(path)):
                    kind, ident = self.live[prefix + name]
                    listing[name] = [kind, ident]
                durable.entries[self.live[path][1]] = listing
                durable.save()
                return 0

        def symlink(self, target, source):
            raise FuseOSError(NOT_SUPPORTED)

        def link(self, target, source):
            raise FuseOSError(NOT_SUPPORTED)

        def mknod(self, path, mode, dev):
            raise FuseOSError(NOT_SUPPORTED)

        def init(self, path):
            print("lossyfs ready", flush=True)

        def destroy(self, path):
            # Mode changes are durable at once (see the header); everything else already is
            # saved. Nothing here makes file contents durable: an unmount is not an fsync.
            durable.save()
            for fd in self.synced_fds.values():
                os.close(fd)

    FUSE(LossyFS(), mountpoint, foreground=True, hard_remove=True, big_writes=True, max_write=131072, fsname="lossyfs")


def main(argv):
    if len(argv) == 5 and argv[1] == "mount":
        serve(os.path.abspath(argv[2]), os.path.abspath(argv[3]), os.path.abspath(argv[4]))
    elif len(argv) == 4 and argv[1] == "cut":
        cut(os.path.abspath(argv[2]), os.path.abspath(argv[3]))
    elif len(argv) == 3 and argv[1] == "probe":
        return probe(os.path.abspath(argv[2]))
    else:
        sys.stderr.write("usage: lossyfs.py mount BACKING STATE MOUNTPOINT | cut BACKING STATE | probe MOUNTPOINT\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
