"""A PEP 517 build backend for poolclient, standard library only: builds the
wheel (and the sdist) with zipfile and tarfile, because a fresh venv's
setuptools cannot build wheels without the `wheel` package and the machines
that install poolclient may have no network. Pure Python, one package, no
compiled parts: a wheel is a zip of the package plus a dist-info.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "poolclient"
SUMMARY = "Client of poold, the resource-pool lease service"
REQUIRES_PYTHON = ">=3.8"
HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "py3-none-any"


def _version():
    with open(os.path.join(HERE, NAME, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
            "Requires-Python: %s\nLicense: see the poold repository\n"
            % (NAME, _version(), SUMMARY, REQUIRES_PYTHON))


def _package_files():
    """(path in the archive, path on disk) of every file of the package."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(HERE, NAME)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith(".py") or fn == "py.typed":
                full = os.path.join(dirpath, fn)
                out.append((os.path.relpath(full, HERE).replace(os.sep, "/"),
                            full))
    return out


def _dist_info():
    return "%s-%s.dist-info" % (NAME, _version())


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "%s,sha256=%s,%d\n" % (arcname, digest.rstrip(b"=").decode(),
                                  len(data))


def _write_wheel(wheel_directory, extra):
    """Writes the wheel with the dist-info and the ``extra`` (arcname,
    bytes) entries; returns its file name."""
    name = "%s-%s-%s.whl" % (NAME, _version(), TAG)
    info = _dist_info()
    entries = list(extra) + [
        (info + "/METADATA", _metadata().encode()),
        (info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: poolclient_build"
                           "\nRoot-Is-Purelib: true\nTag: %s\n" % TAG
                           ).encode()),
        (info + "/top_level.txt", (NAME + "\n").encode()),
    ]
    record = "".join(_record_line(a, d) for a, d in entries)
    record += info + "/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries + [(info + "/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, _dist_info())
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return _dist_info()


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    files = []
    for arcname, full in _package_files():
        with open(full, "rb") as f:
            files.append((arcname, f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    # PEP 660: a .pth file that puts this source tree on sys.path.
    return _write_wheel(wheel_directory,
                        [(NAME + ".pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, _version())
    name = base + ".tar.gz"
    members = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")),
               ("poolclient_build.py", os.path.join(HERE,
                                                    "poolclient_build.py"))]
    members += _package_files()
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz",
                      format=tarfile.PAX_FORMAT) as tf:
        for arcname, full in members:
            tf.add(full, arcname=base + "/" + arcname, recursive=False)
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        ti.mode = 0o644
        tf.addfile(ti, io.BytesIO(pkg_info))
    return name
