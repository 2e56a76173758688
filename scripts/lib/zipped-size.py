"""The size of the deployment zip of one bootstrap: the file alone, deflated at zlib's default
level, which is how SAM's packaging (Python's zipfile) zips a function's build directory.

    python3 scripts/lib/zipped-size.py target/lambda/login/bootstrap   # prints bytes
"""

import io
import sys
import zipfile


def zipped_size(path: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    return len(buffer.getvalue())


if __name__ == "__main__":
    print(zipped_size(sys.argv[1]))
