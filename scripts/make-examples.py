"""Write the sample inputs in examples/ that the commands of README.md and docs/ name.

    /usr/bin/python3 scripts/make-examples.py [--out examples] [--check]

The pictures are drawn by training.synthetic (the demo model's own generator, so the demo classifies them as
what they pretend to be); nothing here is medical data or comes from a patient. Every file is deterministic in
its pixels. --check writes to a temporary directory and compares the decoded pixels and DICOM attributes with
the files in --out (PNG/TIFF bytes may differ with the zlib/libtiff version, pixels may not), exit 1 on a
difference.

  chest-xray.png  8-bit grey PNG, 224 x 224, an X-ray-like picture
  ct.dcm          CT, one 160 x 160 frame, 12-bit stored, Hounsfield units through Rescale Intercept -1024,
                  explicit VR little endian; its Window Center/Width (-300/1400) show the picture as drawn
  ct-volume.dcm   CT, 16 frames of 64 x 64 (a multi-frame object: requests must name a `frame`), shared
                  functional groups carrying the rescale and the window
  mri.tif         16-bit grey TIFF with 2 pages (two slices), 128 x 128, values 0..4000
  labels.csv      path,label for the three single-image files (an `unimed eval --data` manifest)

Kept small (about 300 KB in all; each file used in a `base64` example of the docs stays under 96 KB, since one shell
argument is limited to 128 KiB).
"""

import argparse
import csv
import os
import sys
import tempfile

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from training.synthetic import DRAW  # noqa: E402

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
LABELS = [("chest-xray.png", "xray"), ("ct.dcm", "ct"), ("mri.tif", "mri")]


def picture(seed, modality, h, w, finding=1):
    """A training.synthetic drawing in 0..1 (float), as make_image draws it, at a fixed size."""
    rng = np.random.RandomState(seed)
    img = DRAW[modality](rng, h, w, finding).astype(np.float32)
    img = img + rng.normal(0, 0.02, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def hounsfield(img):
    """0..1 -> -1000..400 HU (air to bone), stored with Rescale Intercept -1024 in 12 bits."""
    return np.clip(np.round(img * 1400 - 1000) + 1024, 0, 4095).astype(np.uint16)


def dicom_base(sop_class, name):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["unimed-serve examples", name, "instance"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid(entropy_srcs=["unimed-serve examples"])
    ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["unimed-serve examples", "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["unimed-serve examples", name, "series"])
    ds.PatientName = "SYNTHETIC^EXAMPLE"
    ds.PatientID = "SYNTHETIC"
    ds.Modality = "CT"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def write_ct(path):
    pixels = hounsfield(picture(11, "ct", 160, 160))
    ds = dicom_base(CT_IMAGE_STORAGE, "ct.dcm")
    ds.Rows, ds.Columns = pixels.shape
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = -300, 1400
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, write_like_original=False)


def write_ct_volume(path, frames=16, size=64):
    volume = np.stack([hounsfield(picture(100 + i, "ct", size, size, finding=i % 2)) for i in range(frames)])
    ds = dicom_base(ENHANCED_CT_IMAGE_STORAGE, "ct-volume.dcm")
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = size, size
    transformation = Dataset()
    transformation.RescaleIntercept, transformation.RescaleSlope, transformation.RescaleType = -1024, 1, "HU"
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = -300, 1400
    shared = Dataset()
    shared.PixelValueTransformationSequence = [transformation]
    shared.FrameVOILUTSequence = [voi]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PixelData = volume.tobytes()
    ds.save_as(path, write_like_original=False)


def write_mri(path):
    pages = [Image.fromarray(np.round(picture(seed, "mri", 128, 128) * 4000).astype(np.uint16), "I;16")
             for seed in (21, 22)]
    pages[0].save(path, save_all=True, append_images=pages[1:], compression=None)


def write_all(out):
    os.makedirs(out, exist_ok=True)
    Image.fromarray(np.round(picture(1, "xray", 224, 224) * 255).astype(np.uint8), "L").save(
        os.path.join(out, "chest-xray.png"), optimize=True)
    write_ct(os.path.join(out, "ct.dcm"))
    write_ct_volume(os.path.join(out, "ct-volume.dcm"))
    write_mri(os.path.join(out, "mri.tif"))
    with open(os.path.join(out, "labels.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label"])
        w.writerows(LABELS)


def content(path):
    """What must not change: pixels (every page or frame) and, for DICOM, the data set as text."""
    if path.endswith(".dcm"):
        ds = pydicom.dcmread(path)
        return [str(ds), ds.pixel_array.tobytes()]
    if path.endswith((".png", ".tif")):
        im = Image.open(path)
        out = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append((im.mode, im.size, np.asarray(im).tobytes()))
        return out
    with open(path, "rb") as f:
        return f.read()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")))
    p.add_argument("--check", action="store_true", help="compare a fresh run with the files in --out")
    a = p.parse_args(argv)
    if not a.check:
        write_all(a.out)
        names = sorted(os.listdir(a.out))
        total = sum(os.path.getsize(os.path.join(a.out, n)) for n in names)
        print(f"wrote {', '.join(names)} to {a.out} ({total / 1024:.0f} KiB)", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as fresh:
        write_all(fresh)
        differ = [n for n in sorted(os.listdir(fresh))
                  if not os.path.exists(os.path.join(a.out, n))
                  or content(os.path.join(fresh, n)) != content(os.path.join(a.out, n))]
    if differ:
        print(f"differ from a fresh run: {', '.join(differ)}", file=sys.stderr)
        return 1
    print("examples match a fresh run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
