#!/usr/bin/env bash
# Multi-node NUMA lab (`make lab`): boot a QEMU guest with 2 virtual NUMA
# nodes, then one with 4 nodes and an asymmetric distance matrix, each on a
# Debian kernel taken from Debian's package (downloaded and unpacked under
# build/lab/, never installed here) and a busybox initramfs. The guest
# mounts this machine's root read-only over 9p, chroots into it and runs
# tests/lab/guest.sh, which starts real QEMU (TCG) "VMs" laid out with
# numactl, taskset and cgroup cpusets, runs numalens against them (locality
# scores; and hints, `numalens apply` and /api/v1/placement when the binary
# has them) and writes a result table to a second, writable 9p export
# (build/lab/out/TOPO/). Prints the table and "lab: N passed, N failed";
# exits non-zero on any failure.
#
#   tests/lab/lab.sh [BIN]      BIN defaults to build/numalens
#
# Knobs (environment):
#   NL_LAB_ACCEL    tcg (default) or kvm. A Debian kernel hangs at boot
#                   under this machine's KVM, so TCG is the default.
#   NL_LAB_TCG_THREAD  single (default) or multi. With thread=multi (one
#                   host thread per vCPU, 4 or 8 of them on 2 cores) and the
#                   host busy, an idle vCPU was sometimes not woken for tens
#                   of seconds: RCU stalls, soft lockups, a vCPU thread
#                   moved there not running at all. One TCG thread for all
#                   vCPUs has not shown it, and uses one host core.
#   NL_LAB_TOPOS    which guests to boot (default "2node 4node 2node-mig";
#                   2node-mig is the 2node guest running the live-migration
#                   scenario, tests/lab/sc_livemig.sh)
#   NL_LAB_TIMEOUT  seconds one guest may run before it is killed (420, and
#                   900 for 2node-mig, whose one try takes 4-5 minutes: a
#                   scenario with a failed check is run once more)
#   NL_LAB_KEEP=1   keep the unpacked kernel package tree
#   NL_LAB_SCENARIOS  the guest's scenarios (default: all of the topology's)
#   NL_EXTRA_FLAGS  extra flags for the numalens in the guest (written to
#                   OUT/extra_flags), to break a measurement on purpose, e.g.
#                   '--no-collector.numa_stat --no-collector.numa_maps'
# A guest that did not boot is the first failure, with QEMU's or the
# console's last words; a guest that recorded no result, or a row that is
# neither pass nor FAIL, fails.
# Needs root, qemu-system-x86, cpio, kmod, numactl, jq (tests/lib/deps.sh
# lab installs them) and Debian's mirror the first time (about 72 MB).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$(pwd -P)
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

LAB=build/lab
ACCEL=${NL_LAB_ACCEL:-tcg}
TOPOS=${NL_LAB_TOPOS:-"2node 4node 2node-mig"}
# (per guest: guest_timeout TOPO)
guest_timeout() {
	if [ -n "${NL_LAB_TIMEOUT:-}" ]; then echo "$NL_LAB_TIMEOUT"
	elif [ "$1" = 2node-mig ]; then echo 900
	else echo 420
	fi
}
# The 9p modules the initramfs loads; their dependencies (modinfo) are added
# and loaded first. Built-in ones are skipped.
ROOT_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"

T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
die() { echo "lab: $*" >&2; nl_fail "$*"; nl_summary lab; exit 1; }

# One lab at a time: it uses fixed paths under build/lab and both cores.
mkdir -p "$LAB"
exec 8>/tmp/numalens-lab.lock
flock -w 900 8 || die "another lab run holds /tmp/numalens-lab.lock"

[ "$(id -u)" -eq 0 ] || { echo "lab: skipped: needs root (apt-get download, numactl, cgroups)"; nl_summary lab; exit 0; }
for c in qemu-system-x86_64 cpio gzip dpkg-deb apt-get modinfo; do
	command -v "$c" >/dev/null || die "missing command $c (tests/lib/deps.sh lab installs it)"
done
[ -x "$BIN" ] || die "no numalens binary at $BIN"
[ -f build/guest/memburn.elf ] || die "no build/guest/memburn.elf (make guests)"

# --- kernel and busybox from Debian's packages (cached in build/lab/cache) ---
# fetch_deb PKG: the path of PKG's .deb in the cache, downloaded once with
# apt-get download.
fetch_deb() {
	local pkg=$1 deb
	deb=$(ls "$LAB"/cache/"${pkg}"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		mkdir -p "$LAB/cache"
		# _apt cannot write to build/: download as root, quietly
		( cd "$LAB/cache" && apt-get download -q "$pkg" >/dev/null 2>&1 ) ||
		( apt-get update -q >/dev/null 2>&1 && cd "$LAB/cache" &&
		  apt-get download -q "$pkg" >/dev/null 2>&1 ) || return 1
		deb=$(ls "$LAB"/cache/"${pkg}"_*.deb 2>/dev/null | head -n 1)
	fi
	[ -n "$deb" ] && echo "$deb"
}

t=$(now)
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$KPKG" ]; then
	apt-get update -q >/dev/null 2>&1
	KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$KPKG" ] || die "cannot tell which kernel package linux-image-amd64 names"
KVER=${KPKG#linux-image-}
KDEB=$(fetch_deb "$KPKG") || die "apt-get download $KPKG failed"
BBDEB=$(fetch_deb busybox-static) || die "apt-get download busybox-static failed"

KDIR=$LAB/kernel-$KVER       # vmlinuz, the modules we load, load.order
STAMP="$KPKG $(basename "$KDEB") $(echo $ROOT_MODULES)"
if [ "$(cat "$KDIR/.complete" 2>/dev/null)" != "$STAMP" ]; then
	rm -rf "$KDIR" "$LAB/unpack"
	mkdir -p "$KDIR/modules" "$LAB/unpack"
	dpkg -x "$KDEB" "$LAB/unpack" || die "dpkg -x $KDEB failed"
	MODROOT=$LAB/unpack/lib/modules/$KVER
	cp "$LAB/unpack/boot/vmlinuz-$KVER" "$KDIR/vmlinuz" || die "no vmlinuz-$KVER in $KDEB"
	cp "$LAB/unpack/boot/config-$KVER" "$KDIR/config" 2>/dev/null
	# name -> file (names with '_', as the kernel does)
	declare -A MODFILE=()
	while read -r f; do
		b=$(basename "$f"); b=${b%%.ko*}; MODFILE[${b//-/_}]=$f
	done < <(find "$MODROOT/kernel" -name '*.ko*')
	is_builtin() {
		sed 's,.*/,,; s,\.ko.*,,; s,-,_,g' "$MODROOT/modules.builtin" 2>/dev/null | grep -qx "$1"
	}
	declare -A SEEN=()
	ORDER=()
	# Depth first, dependencies first (the package ships no modules.dep;
	# modinfo reads the "depends" field of the file itself). Compressed
	# modules are unpacked: busybox insmod takes a plain ELF only.
	add_module() {
		local m=${1//-/_} f d
		[ -n "${SEEN[$m]:-}" ] && return 0
		SEEN[$m]=1
		f=${MODFILE[$m]:-}
		if [ -z "$f" ]; then
			is_builtin "$m" && return 0
			echo "lab: module $m is neither in $KPKG nor built in" >&2
			return 1
		fi
		case "$f" in
		*.ko)     cp "$f" "$KDIR/modules/$m.ko" ;;
		*.ko.xz)  xz -dc "$f" > "$KDIR/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" > "$KDIR/modules/$m.ko" ;;
		*.ko.gz)  gzip -dc "$f" > "$KDIR/modules/$m.ko" ;;
		*) return 1 ;;
		esac || return 1
		for d in $(modinfo -F depends "$KDIR/modules/$m.ko" | tr ',' ' '); do
			add_module "$d" || return 1
		done
		ORDER+=("$m")
	}
	for m in $ROOT_MODULES; do
		add_module "$m" || die "initramfs: module $m unavailable"
	done
	printf '%s\n' "${ORDER[@]}" > "$KDIR/load.order"
	[ "${NL_LAB_KEEP:-0}" = 1 ] || rm -rf "$LAB/unpack"
	echo "$STAMP" > "$KDIR/.complete"
fi
rm -rf "$LAB/bb"
dpkg -x "$BBDEB" "$LAB/bb" || die "dpkg -x $BBDEB failed"

# --- initramfs: busybox, the 9p modules in dependency order, /init ----------
IR=$LAB/initramfs
rm -rf "$IR"
mkdir -p "$IR"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$LAB/bb/bin/busybox" "$IR/bin/busybox"
cp tests/lab/init "$IR/init"
chmod 0755 "$IR/init" "$IR/bin/busybox"
cp "$KDIR/load.order" "$IR/lib/modules/"
while read -r m; do cp "$KDIR/modules/$m.ko" "$IR/lib/modules/"; done < "$KDIR/load.order"
( cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1 ) > "$LAB/initramfs.cpio.gz" ||
	die "cannot build the initramfs"
PREP=$(since "$t")
echo "lab: kernel $KPKG ($(basename "$KDEB")), busybox $(basename "$BBDEB")"
echo "lab: initramfs modules: $(tr '\n' ' ' < "$KDIR/load.order")(the rest built in); prepared in ${PREP}s"

# The binaries the guest runs, copied now: the tree may be rebuilt by
# someone else while the lab runs.
mkdir -p "$LAB/bin"
cp "$BIN" "$LAB/bin/numalens"
cp build/guest/memburn.elf "$LAB/bin/"

# --- boot one guest ----------------------------------------------------------
# Results: OUT/results (one "scenario|expected|measured|pass|seconds" line
# per check), OUT/status (the guest script's exit status), OUT/console.log.
declare -A BOOT_S RUN_S
boot() {
	local topo=$1 out=$LAB/out/$1 mem numa=() smp accel qpid t1 ready="" rc
	local n nn s d v row
	rm -rf "$out"; mkdir -p "$out"
	case "$topo" in
	2node-mig)
		# smaller nodes: the resident VM that fills node 0 touches less
		# memory (slow in a TCG guest), and nothing else changes
		smp=4 mem=1024
		numa=(-object memory-backend-ram,id=m0,size=512M
		      -object memory-backend-ram,id=m1,size=512M
		      -numa node,nodeid=0,cpus=0-1,memdev=m0
		      -numa node,nodeid=1,cpus=2-3,memdev=m1) ;;
	2node)
		smp=4 mem=2048
		numa=(-object memory-backend-ram,id=m0,size=1024M
		      -object memory-backend-ram,id=m1,size=1024M
		      -numa node,nodeid=0,cpus=0-1,memdev=m0
		      -numa node,nodeid=1,cpus=2-3,memdev=m1) ;;
	4node)
		# 0-1 and 2-3 are near pairs (16), across pairs is far (22)
		# two CPUs per node: with one, any resident VM's CPU time makes
		# a node refuse an incoming VM for CPU before memory counts
		smp=8 mem=4096
		numa=()
		for n in 0 1 2 3; do
			numa+=(-object memory-backend-ram,id=m$n,size=1024M
			       -numa node,nodeid=$n,cpus=$((2 * n))-$((2 * n + 1)),memdev=m$n)
		done
		for s in 0 1 2 3; do for d in 0 1 2 3; do
			[ "$s" -lt "$d" ] || continue
			if [ $((s / 2)) -eq $((d / 2)) ]; then v=16; else v=22; fi
			numa+=(-numa dist,src=$s,dst=$d,val=$v)
		done; done ;;
	*) echo "lab: unknown topology $topo" >&2; return 1 ;;
	esac
	# the SLIT the guest must see, one row per node (QEMU's default
	# without -numa dist is 10 local, 20 remote)
	nn=$(printf '%s\n' "${numa[@]}" | grep -c '^node,')
	for ((s = 0; s < nn; s++)); do
		row=
		for ((d = 0; d < nn; d++)); do
			if [ "$s" = "$d" ]; then v=10
			else
				v=$(printf '%s\n' "${numa[@]}" | sed -n "s/^dist,src=$((s < d ? s : d)),dst=$((s < d ? d : s)),val=//p")
				v=${v:-20}
			fi
			row+="${row:+ }$v"
		done
		echo "$row"
	done > "$out/distances"
	[ -n "${NL_LAB_SCENARIOS:-}" ] && echo "$NL_LAB_SCENARIOS" > "$out/scenarios"
	[ "${#NL_EXTRA[@]}" -eq 0 ] || echo "${NL_EXTRA[*]}" > "$out/extra_flags"
	case "$ACCEL" in
	kvm) accel=(-accel kvm -cpu host) ;;
	*)   accel=(-accel "tcg,thread=${NL_LAB_TCG_THREAD:-single}" -cpu max) ;;
	esac
	t1=$(now)
	qemu-system-x86_64 "${accel[@]}" -machine pc -smp "$smp" -m "$mem" "${numa[@]}" \
		-kernel "$KDIR/vmlinuz" -initrd "$LAB/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 numa_balancing=disable nllab.repo=$REPO nllab.topo=$topo" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$REPO/$out,mount_tag=labout,security_model=none,multidevs=remap" \
		-nodefaults -display none -no-reboot -serial "file:$out/console.log" \
		> "$out/qemu.log" 2>&1 &
	qpid=$!
	TIMEOUT=$(guest_timeout "$topo")
	while kill -0 "$qpid" 2>/dev/null; do
		if [ -z "$ready" ] && grep -q '^nllab: ready' "$out/console.log" 2>/dev/null; then
			ready=$(since "$t1")
			echo "lab: $topo guest up in ${ready}s (boot, 9p root, chroot)"
		fi
		if awk -v a="$(now)" -v b="$t1" -v l="$TIMEOUT" 'BEGIN { exit !(a - b > l) }'; then
			echo "lab: $topo guest still running after ${TIMEOUT}s: killed" >&2
			kill "$qpid" 2>/dev/null
			break
		fi
		sleep 0.2
	done
	wait "$qpid"; rc=$?
	BOOT_S[$topo]=${ready:-n/a}
	RUN_S[$topo]=$(since "$t1")
	[ "$rc" -eq 0 ] || echo "lab: $topo: qemu exited with status $rc ($(tail -n 3 "$out/qemu.log" | tr '\n' ' '))" >&2
	return 0
}

rows=()
for topo in $TOPOS; do
	boot "$topo"
	out=$LAB/out/$topo
	status=$(cat "$out/status" 2>/dev/null)
	if [ -z "${BOOT_S[$topo]}" ] || [ "${BOOT_S[$topo]}" = n/a ]; then
		# the cause, once, first: QEMU's complaint, else the console's end
		why=$(grep -v '^[[:space:]]*$' "$out/qemu.log" 2>/dev/null | head -n 1)
		[ -n "$why" ] || why="console: $(grep -v '^[[:space:]]*$' "$out/console.log" 2>/dev/null | tail -n 1)"
		nl_cause "$topo: guest did not start (boot, 9p root, chroot): ${why:0:300}"
		echo "---- $topo console (last 40 lines) ----"; tail -n 40 "$out/console.log" 2>/dev/null
		continue
	fi
	nl_pass "$topo: guest booted and entered the shared root (${BOOT_S[$topo]}s)"
	if [ "$status" != 0 ]; then
		nl_fail "$topo: guest scenario script finished (status ${status:-none: killed or crashed})"
		echo "---- $topo console (last 40 lines) ----"; tail -n 40 "$out/console.log" 2>/dev/null
	fi
	bad=0 nrows=0
	while IFS='|' read -r name expected measured pass secs; do
		[ -n "$name" ] || continue
		nrows=$((nrows + 1))
		rows+=("$topo|$name|$expected|$measured|$pass|$secs")
		if [ "$pass" = pass ]; then
			nl_pass "$topo: $name: expected $expected, measured $measured"
		else
			# FAIL, or a row that says neither
			nl_fail "$topo: $name: expected $expected, measured ${measured:-(nothing)}$([ "$pass" = FAIL ] || echo " (result '$pass')")"
			bad=1
		fi
	done < "$out/results" 2>/dev/null
	# the guest's last row says numalens outlived the scenarios: without it
	# the results stop early, whatever they say
	nl_check_num --names=rows,want "$topo: the guest recorded its results, to the last row" \
		"$(grep -c '^numalens still running after the scenarios|' "$out/results" 2>/dev/null)" -eq 1
	nl_check_num --names=rows,want "$topo: results recorded beside the last row" "$nrows" -ge 2
	# a failed check: the whole scenario log (phases, timings), which CI
	# keeps when nothing else of the guest survives
	if [ "$bad" = 1 ] || grep -q '^nllab: first try failed' "$out/console.log" 2>/dev/null; then
		echo "---- $topo console ----"; grep '^nllab: ' "$out/console.log"
	fi
done

# --- the table ---------------------------------------------------------------
echo
{
	echo "guest|scenario|expected|measured|pass|seconds"
	printf '%s\n' "${rows[@]}"
} | awk -F'|' '
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF > nf ? NF : nf }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++) line = line sprintf("%-*s%s", w[i], c[r, i], i < nf ? " | " : "")
			print line
			if (r == 1) { sep = ""; for (i = 1; i <= nf; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; sep = sep s (i < nf ? "-+-" : "") } print sep }
		}
	}'
echo
for topo in $TOPOS; do
	echo "lab: $topo: boot ${BOOT_S[$topo]:-n/a}s, guest total ${RUN_S[$topo]:-n/a}s"
done
for topo in $TOPOS; do
	[ -s "$LAB/out/$topo/notes" ] && sed "s/^/lab: $topo: /" "$LAB/out/$topo/notes"
done
echo "lab: preparation ${PREP}s, total $(since "$T0")s"
nl_summary lab
