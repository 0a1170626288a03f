#!/bin/sh
# Writes sunspots.csv (committed beside this script, so that nothing else
# needs Python): the yearly sunspot numbers 1700-2008 of the data set
# statsmodels ships, statsmodels.datasets.sunspots (Debian package
# python3-statsmodels; the data is public domain, from NOAA's National
# Geophysical Data Center, http://www.ngdc.noaa.gov/stp/solar/solarda3.html).
# Run once, as root to install the package if it is missing:
#   sh examples/gallery/sunspots/export_data.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c 'import statsmodels' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "needs python3-statsmodels: sudo apt-get install python3-statsmodels" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-statsmodels >/dev/null
fi
/usr/bin/python3 - "$here/sunspots.csv" <<'PY'
import sys
import statsmodels.api as sm
d = sm.datasets.sunspots.load_pandas().data
with open(sys.argv[1], "w") as f:
    f.write("year,activity\n")
    for y, a in zip(d["YEAR"], d["SUNACTIVITY"]):
        f.write("%d,%g\n" % (y, a))
PY
echo "wrote $here/sunspots.csv: $(($(wc -l <"$here/sunspots.csv") - 1)) years"
