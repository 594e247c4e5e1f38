#!/usr/bin/env python3
"""Reads hemoscale's output files back with third-party readers and compares them with the
values the writer was given.

    check_outputs.py DIR

DIR holds the files and `expected.json` (written by tests/output_readers.rs) describing what they
must contain. Readers: VTK's vtkXMLPolyDataReader / vtkXMLImageDataReader (PyPI `vtk`; the .pvd
collections are parsed with xml.etree, since VTK's own PVD reader lives in ParaView, and every
file they list is opened with VTK), ASE's extended XYZ reader, Python's csv module and Pillow.

Exit status: 0 all checks pass; 1 a file does not read back as expected (every mismatch is
printed); 2 bad usage or a missing/invalid expected.json; 3 a reader module is not installed
(run scripts/test.sh, which sets up .venv-tests).
"""

import base64
import csv
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

try:
    import numpy as np
    import ase.io
    from PIL import Image
    from vtkmodules.vtkCommonCore import vtkOutputWindow, vtkStringOutputWindow
    from vtkmodules.vtkIOXML import vtkXMLImageDataReader, vtkXMLPolyDataReader
    from vtkmodules.util.numpy_support import vtk_to_numpy
except ImportError as e:  # pragma: no cover - depends on the environment
    print(f"check_outputs.py: missing reader module: {e} (run scripts/test.sh to create .venv-tests)",
          file=sys.stderr)
    sys.exit(3)

FAILURES = []
CHECKS = 0

# Capture VTK's error and warning messages instead of letting them go to stderr unnoticed.
VTK_LOG = vtkStringOutputWindow()
vtkOutputWindow.SetInstance(VTK_LOG)


def fail(msg):
    FAILURES.append(msg)


def check(cond, msg):
    global CHECKS
    CHECKS += 1
    if not cond:
        fail(msg)
    return cond


def arrays_match(where, got, want, exact=True, rtol=0.0):
    """Compares arrays (shape and values); exact for binary data, rtol for text formats."""
    got = np.asarray(got)
    want = np.asarray(want)
    if not check(got.shape == want.shape, f"{where}: shape {got.shape}, expected {want.shape}"):
        return
    if exact:
        ok = np.array_equal(got, want)
    else:
        ok = np.allclose(got, want, rtol=rtol, atol=0.0)
    if not check(ok, f"{where}: values differ"):
        bad = np.argwhere(~np.isclose(got, want, rtol=rtol, atol=0.0)) if not exact else np.argwhere(got != want)
        for idx in bad[:5]:
            idx = tuple(int(i) for i in idx)
            fail(f"  {where}{list(idx)}: read {got[idx].item()!r}, expected {want[idx].item()!r}")


def vtk_read(reader_cls, path):
    """Reads one VTK XML file; returns its output, or None with a failure recorded."""
    before = len(VTK_LOG.GetOutput())
    if not check(os.path.isfile(path), f"{path}: missing"):
        return None
    reader = reader_cls()
    if not check(reader.CanReadFile(path), f"{path}: {reader_cls.__name__} cannot read this file"):
        return None
    check_binary_headers(path)
    reader.SetFileName(path)
    reader.Update()
    log = VTK_LOG.GetOutput()[before:]
    if not check(not log.strip(), f"{path}: VTK reported:\n{log.strip()}"):
        return None
    # Some read failures set only the error code (and yield empty data).
    code = reader.GetErrorCode()
    if not check(code == 0, f"{path}: {reader_cls.__name__} failed with VTK error code {code}"):
        return None
    return reader.GetOutput()


def check_binary_headers(path):
    """VTK tolerates some inconsistencies in inline binary arrays; stricter readers do not. Each
    format="binary" DataArray must be base64 of a UInt64 byte count followed by exactly that many
    bytes, as many as its type, components and tuple count call for."""
    sizes = {"Float32": 4, "Float64": 8, "UInt32": 4, "Int32": 4, "UInt64": 8, "Int64": 8, "UInt8": 1}
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        fail(f"{path}: not well-formed XML: {e}")
        return
    check(root.get("header_type") == "UInt64", f"{path}: header_type {root.get('header_type')!r}, expected 'UInt64'")
    piece = root.find("./*/Piece")
    n_points = int(piece.get("NumberOfPoints", -1)) if piece is not None else -1
    for parent in root.iter():
        for arr in parent.findall("DataArray"):
            if arr.get("format") != "binary":
                continue
            name = arr.get("Name")
            raw = base64.b64decode("".join((arr.text or "").split()), validate=True)
            count = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else -1
            check(count == len(raw) - 8, f"{path} {name}: header says {count} bytes, {len(raw) - 8} follow")
            comps = int(arr.get("NumberOfComponents", 1))
            tuples = arr.get("NumberOfTuples")
            if tuples is None and parent.tag in ("PointData", "Points") and n_points >= 0:
                tuples = n_points
            if tuples is not None:
                want = int(tuples) * comps * sizes[arr.get("type")]
                check(len(raw) - 8 == want, f"{path} {name}: {len(raw) - 8} bytes of data, expected {want}")


def field_scalar(data, name, path):
    arr = data.GetFieldData().GetArray(name)
    if not check(arr is not None, f"{path}: field data {name!r} missing"):
        return None
    return arr.GetTuple(0)


def read_pvd(path):
    """[(timestep, absolute file path)] from a ParaView Data collection file."""
    if not check(os.path.isfile(path), f"{path}: missing"):
        return []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path}: not well-formed XML: {e}")
        return []
    check(root.tag == "VTKFile" and root.get("type") == "Collection",
          f"{path}: root is <{root.tag} type={root.get('type')!r}>, expected <VTKFile type='Collection'>")
    coll = root.find("Collection")
    if not check(coll is not None, f"{path}: no <Collection>"):
        return []
    base = os.path.dirname(path)
    return [(float(ds.get("timestep")), os.path.join(base, ds.get("file"))) for ds in coll.findall("DataSet")]


def check_frame_common(where, time, step, exp):
    check(time == exp["time"], f"{where}: time {time}, expected {exp['time']}")
    check(step == exp["step"], f"{where}: step {step}, expected {exp['step']}")


def check_vtp(spec, d):
    entries = read_pvd(os.path.join(d, spec["pvd"]))
    frames = spec["frames"]
    if not check(len(entries) == len(frames), f"{spec['pvd']}: {len(entries)} frames, expected {len(frames)}"):
        return
    for k, ((t, path), exp) in enumerate(zip(entries, frames)):
        where = f"{spec['pvd']} frame {k} ({os.path.basename(path)})"
        check(t == exp["time"], f"{where}: pvd timestep {t}, expected {exp['time']}")
        out = vtk_read(vtkXMLPolyDataReader, path)
        if out is None:
            continue
        n = len(exp["tags"])
        check(out.GetNumberOfPoints() == n, f"{where}: {out.GetNumberOfPoints()} points, expected {n}")
        check(out.GetNumberOfVerts() == n, f"{where}: {out.GetNumberOfVerts()} vertex cells, expected {n}")
        tv, st = field_scalar(out, "TimeValue", where), field_scalar(out, "Step", where)
        if tv is not None and st is not None:
            check_frame_common(where, tv[0], int(st[0]), exp)
        box = field_scalar(out, "BoxLengths", where)
        if box is not None:
            arrays_match(f"{where} BoxLengths", box, exp["box"])
        if out.GetPoints() is None:
            fail(f"{where}: no points")
            continue
        pts = vtk_to_numpy(out.GetPoints().GetData())
        check(pts.dtype == np.float32, f"{where}: points are {pts.dtype}, expected float32")
        arrays_match(f"{where} Points", pts, np.array(exp["positions"], dtype=np.float32))
        pd = out.GetPointData()
        for name, key, dtype in (("velocity", "velocities", np.float32), ("type_id", "type_ids", np.uint32),
                                 ("tag", "tags", np.uint32)):
            arr = pd.GetArray(name)
            if not check(arr is not None, f"{where}: point data {name!r} missing"):
                continue
            arrays_match(f"{where} {name}", vtk_to_numpy(arr), np.array(exp[key], dtype=dtype))
        conn = vtk_to_numpy(out.GetVerts().GetConnectivityArray())
        offs = vtk_to_numpy(out.GetVerts().GetOffsetsArray())
        arrays_match(f"{where} vertex connectivity", conn, np.arange(n))
        arrays_match(f"{where} vertex offsets", offs, np.arange(n + 1))


def check_vti(spec, d):
    entries = read_pvd(os.path.join(d, spec["pvd"]))
    frames = spec["frames"]
    if not check(len(entries) == len(frames), f"{spec['pvd']}: {len(entries)} frames, expected {len(frames)}"):
        return
    for k, ((t, path), exp) in enumerate(zip(entries, frames)):
        where = f"{spec['pvd']} frame {k} ({os.path.basename(path)})"
        check(t == exp["time"], f"{where}: pvd timestep {t}, expected {exp['time']}")
        img = vtk_read(vtkXMLImageDataReader, path)
        if img is None:
            continue
        tv, st = field_scalar(img, "TimeValue", where), field_scalar(img, "Step", where)
        if tv is not None and st is not None:
            check_frame_common(where, tv[0], int(st[0]), exp)
        cells = exp["cells"]
        dims = list(img.GetDimensions())
        check(dims == [c + 1 for c in cells], f"{where}: point dimensions {dims}, expected {[c + 1 for c in cells]}")
        arrays_match(f"{where} spacing", img.GetSpacing(), exp["spacing"])
        arrays_match(f"{where} origin", img.GetOrigin(), exp["origin"])
        n_cells = cells[0] * cells[1] * cells[2]
        check(img.GetNumberOfCells() == n_cells, f"{where}: {img.GetNumberOfCells()} cells, expected {n_cells}")
        cd = img.GetCellData()
        for name, want in exp["arrays"].items():
            arr = cd.GetArray(name)
            if not check(arr is not None, f"{where}: cell data {name!r} missing"):
                continue
            got = vtk_to_numpy(arr)
            want = np.array(want, dtype=np.float64)
            if want.ndim == 2 and want.shape[1] == 1:
                want = want[:, 0]
            arrays_match(f"{where} {name}", got, want)
            names = exp.get("component_names", {}).get(name)
            if names:
                got_names = [arr.GetComponentName(c) for c in range(arr.GetNumberOfComponents())]
                check(got_names == names, f"{where} {name}: component names {got_names}, expected {names}")
        # Cell (ix, iy, iz) -> point-id order: VTK's ComputeCellId must agree with the writer's
        # ix + nx (iy + ny iz) for the known cells given.
        density = cd.GetArray("density")
        for probe in exp.get("cell_probes", []) if density is not None else []:
            ijk = probe["ijk"]
            cid = img.ComputeCellId(ijk)
            dens = vtk_to_numpy(density)[cid]
            check(dens == probe["density"], f"{where}: density at cell {ijk} (id {cid}) {dens}, expected {probe['density']}")


def check_xyz(spec, d):
    path = os.path.join(d, spec["file"])
    if not check(os.path.isfile(path), f"{path}: missing"):
        return
    try:
        images = ase.io.read(path, index=":", format="extxyz")
    except Exception as e:  # ASE raises many kinds of errors on malformed input
        fail(f"{spec['file']}: ASE could not read it: {type(e).__name__}: {e}")
        return
    frames = spec["frames"]
    if not check(len(images) == len(frames), f"{spec['file']}: ASE read {len(images)} frames, expected {len(frames)}"):
        return
    rtol = 2.0 ** -23  # text of an f32 read as a double and compared as f32: within one ulp
    for k, (atoms, exp) in enumerate(zip(images, frames)):
        where = f"{spec['file']} frame {k}"
        n = len(exp["tags"])
        check(len(atoms) == n, f"{where}: {len(atoms)} atoms, expected {n}")
        check_frame_common(where, atoms.info.get("Time"), atoms.info.get("Step"), exp)
        check(all(atoms.pbc), f"{where}: pbc {atoms.pbc}, expected all True")
        arrays_match(f"{where} cell", atoms.cell.array, np.diag(exp["box"]))
        if len(atoms) != n:
            continue
        arrays_match(f"{where} positions", atoms.positions.astype(np.float32),
                     np.array(exp["positions"], dtype=np.float32), exact=False, rtol=rtol)
        velo = atoms.arrays.get("velo")
        if check(velo is not None, f"{where}: no 'velo' column"):
            arrays_match(f"{where} velo", velo.astype(np.float32), np.array(exp["velocities"], dtype=np.float32),
                         exact=False, rtol=rtol)
        ids = atoms.arrays.get("id")
        if check(ids is not None, f"{where}: no 'id' column"):
            arrays_match(f"{where} id", ids, np.array(exp["tags"]))
        arrays_match(f"{where} Z (type id + 1)", atoms.numbers, np.array(exp["type_ids"]) + 1)


def check_csv(spec, d):
    path = os.path.join(d, spec["file"])
    if not check(os.path.isfile(path), f"{path}: missing"):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not check(len(rows) >= 1, f"{spec['file']}: empty"):
        return
    check(rows[0] == spec["columns"], f"{spec['file']}: header {rows[0]}, expected {spec['columns']}")
    body = rows[1:]
    check(len(body) == len(spec["rows"]), f"{spec['file']}: {len(body)} rows, expected {len(spec['rows'])}")
    for i, (got, want) in enumerate(zip(body, spec["rows"])):
        try:
            vals = [float(x) for x in got]
        except ValueError as e:
            fail(f"{spec['file']} row {i + 1}: {e}")
            continue
        same = len(vals) == len(want) and all(a == b or (math.isnan(a) and b is None) for a, b in zip(vals, want))
        check(same, f"{spec['file']} row {i + 1}: read {vals}, expected {want}")


def check_png(spec, d):
    path = os.path.join(d, spec["file"])
    if not check(os.path.isfile(path), f"{path}: missing"):
        return
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            fmt, size, mode = im.format, im.size, im.mode
            im.load()
            colors = im.convert("RGB").getcolors(maxcolors=1 << 24)
    except Exception as e:
        fail(f"{spec['file']}: Pillow could not read it: {type(e).__name__}: {e}")
        return
    check(fmt == "PNG", f"{spec['file']}: format {fmt}, expected PNG")
    check(list(size) == [spec["width"], spec["height"]], f"{spec['file']}: size {size}, expected "
          f"{(spec['width'], spec['height'])}")
    check(mode in ("RGB", "RGBA"), f"{spec['file']}: mode {mode}, expected RGB")
    present = {tuple(c) for _, c in colors}
    check(len(present) >= spec.get("min_colors", 2), f"{spec['file']}: only {len(present)} colours: blank image?")
    for c in spec.get("colors_present", []):
        check(tuple(c) in present, f"{spec['file']}: series colour {tuple(c)} not drawn")
    # Text (title, labels, legend) is drawn in black/grey anti-aliased glyphs: dark pixels exist.
    dark = sum(n for n, c in colors if max(c) < 80)
    check(dark >= spec.get("min_dark_pixels", 1), f"{spec['file']}: {dark} dark pixels: no text or axes drawn?")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    try:
        with open(os.path.join(d, "expected.json")) as f:
            exp = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_outputs.py: cannot load {os.path.join(d, 'expected.json')}: {e}", file=sys.stderr)
        return 2
    checkers = {"csv": check_csv, "xyz": check_xyz, "vtp": check_vtp, "vti": check_vti}
    checkers["png"] = check_png
    for key, fn in checkers.items():
        for spec in exp.get(key, []):
            try:
                fn(spec, d)
            except Exception as e:  # a reader returned something unusable: report, go on
                fail(f"{key} {spec.get('file') or spec.get('pvd')}: checker stopped: {type(e).__name__}: {e}")
    leftovers = [f for f in os.listdir(d) if ".tmp" in f]
    check(not leftovers, f"temporary files left behind: {leftovers}")
    if FAILURES:
        print(f"check_outputs.py: {len(FAILURES)} problem(s) in {d}:", file=sys.stderr)
        for m in FAILURES:
            print(f"  {m}", file=sys.stderr)
        return 1
    versions = f"vtk {__import__('vtkmodules').__version__}, ase {ase.__version__}, Pillow {Image.__version__}"
    print(f"check_outputs.py: {CHECKS} checks passed in {d} ({versions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
