#!/usr/bin/env bash
# The Kubernetes image, built without a container runtime or registry.
#
# Parses deploy/kubernetes/Containerfile (FROM, RUN, COPY [--from=], WORKDIR,
# ENV, EXPOSE, ENTRYPOINT: anything else fails the test rather than being
# skipped) and replays each stage in its own debootstrap chroot of the Debian
# release its FROM line names, each stage starting from a fresh copy of the
# same base, so the final stage sees only what its own RUN lines install.
# Then, in the final stage's chroot: the ENTRYPOINT binary's libraries all
# resolve, `--version` and `events --no-open` run, and no build-stage package
# (compiler, -dev) is there.
#
#   tests/deploy/containerfile.sh [Containerfile]     (root: debootstrap, chroot, mount)
#
# The apt mirror is the one this machine's apt sources name (read when the
# script runs). The base chroot is cached as build/container/base-<release>.tar
# (NL_CONTAINER_REBASE=1 makes it again); the stage chroots live under
# build/container/run/ and are removed at exit (NL_CONTAINER_KEEP=1 keeps
# them for a look; the next run removes them).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

SUITE=container
CF=${1:-deploy/kubernetes/Containerfile}
WORK=$(realpath -m "${NL_CONTAINER_DIR:-build/container}")
RUN_DIR=$WORK/run
# Docker's PATH for a RUN line when no ENV sets one.
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T0=$SECONDS

# ck DESCRIPTION COMMAND...: nl_check that also returns the command's status.
ck() {
	local what=$1; shift
	if "$@"; then nl_pass "$what"; return 0; fi
	nl_fail "$what"; return 1
}

die() {
	nl_fail "$*"
	nl_summary "$SUITE"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	die "running as root (debootstrap, chroot and mount need it)"
fi
if ! command -v debootstrap >/dev/null; then
	echo "container: debootstrap is missing: apt-get install -y debootstrap"
	{ apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; } \
		> /tmp/numalens-debootstrap-install.log 2>&1
	command -v debootstrap >/dev/null ||
		die "debootstrap is installed (see /tmp/numalens-debootstrap-install.log)"
fi
[ -r "$CF" ] || die "$CF is readable"

mkdir -p "$WORK"
# One replay at a time per directory: the stage chroots have fixed names.
exec 9> "$WORK/.lock"
flock 9

# --- mounts -----------------------------------------------------------------
# Only /proc and /sys are ever mounted (never a bind of the host's /dev), so
# even a stray rm -rf of a chroot cannot remove anything of the host's.

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
		sort -r
}
umount_under() {
	local m
	for m in $(mounts_under "$1"); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}
# rm_root DIR: removes a chroot, refusing while anything is mounted in it.
rm_root() {
	umount_under "$1"
	if [ -n "$(mounts_under "$1")" ]; then
		echo "  still mounted under $1, not removing it: $(mounts_under "$1" | tr '\n' ' ')" >&2
		return 1
	fi
	rm -rf --one-file-system "$1"
}
cleanup() {
	umount_under "$WORK"
	if [ "${NL_CONTAINER_KEEP:-0}" = 1 ]; then
		echo "container: kept the stage chroots under $RUN_DIR"
	else
		rm_root "$RUN_DIR"
	fi
	rm_root "$WORK/base.tmp" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_root ROOT WORKDIR CMD...: runs CMD in the chroot as a container runtime
# would: /proc and /sys mounted, an empty environment but for PATH, HOME and
# the stage's ENV, the stage's WORKDIR, no stdin. Unmounts after.
in_root() {
	local root=$1 wd=$2 rc
	shift 2
	mount -t proc proc "$root/proc" || return 1
	if ! mount -t sysfs -o ro sysfs "$root/sys"; then
		umount "$root/proc"
		return 1
	fi
	chroot "$root" /usr/bin/env -i -C "$wd" PATH="$DEFAULT_PATH" HOME=/root \
		"${STAGE_ENV[@]}" "$@" < /dev/null
	rc=$?
	umount "$root/sys" "$root/proc" || umount_under "$root"
	return "$rc"
}

# --- the Containerfile -------------------------------------------------------
# Logical instructions: continuation lines joined, comment and blank lines
# dropped (also inside a continued instruction, as Docker does).
KW=() ARGS=() LINE=()
parse_containerfile() {
	local raw n=0 start=0 buf="" cont=0 kw rest
	while IFS= read -r raw || [ -n "$raw" ]; do
		n=$((n + 1))
		[[ $raw =~ ^[[:space:]]*# ]] && continue
		[[ $raw =~ ^[[:space:]]*$ ]] && continue
		[ "$cont" = 1 ] || start=$n
		if [[ $raw =~ ^(.*)\\[[:space:]]*$ ]]; then
			buf+=${BASH_REMATCH[1]}
			cont=1
			continue
		fi
		buf+=$raw
		cont=0
		buf=${buf#"${buf%%[![:space:]]*}"}
		kw=${buf%%[[:space:]]*}
		rest=${buf#"$kw"}
		rest=${rest#"${rest%%[![:space:]]*}"}
		KW+=("${kw^^}") ARGS+=("$rest") LINE+=("$start")
		buf=""
	done < "$CF"
	[ "$cont" = 0 ] || { echo "$CF: ends inside a continued line"; return 1; }
}

# release_of IMAGE: the Debian codename of a debian:<tag> image.
release_of() {
	local tag
	case $1 in debian:*) tag=${1#debian:} ;; *) return 1 ;; esac
	tag=${tag%-slim}
	case $tag in
	11 | 11.* | bullseye) echo bullseye ;;
	12 | 12.* | bookworm) echo bookworm ;;
	13 | 13.* | trixie) echo trixie ;;
	*) return 1 ;;
	esac
}

# --- apt sources of this machine --------------------------------------------
# host_apt_entries: "URI SUITE COMPONENT..." for every enabled deb source in
# /etc/apt/sources.list, sources.list.d/*.list and deb822 *.sources.
host_apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 4 {
			$1 = ""; sub(/^ /, ""); print }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '
		function flush(   i, j, nu, ns, u, s) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no") {
				nu = split(uris, u, " "); ns = split(suites, s, " ")
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
					print u[i], s[j], comps
			}
			types = uris = suites = comps = enabled = last = ""
		}
		/^[[:space:]]*#/ { next }
		/^[[:space:]]*$/ { flush(); next }
		/^[[:space:]]/ { v = $0; sub(/^[[:space:]]+/, "", v)
			if (last == "uris") uris = uris " " v
			else if (last == "suites") suites = suites " " v
			else if (last == "components") comps = comps " " v
			next }
		{ key = tolower($1); sub(/:$/, "", key); v = $0
		  sub(/^[^:]*:[[:space:]]*/, "", v); last = key
		  if (key == "types") types = v
		  else if (key == "uris") uris = v
		  else if (key == "suites") suites = v
		  else if (key == "components") comps = v
		  else if (key == "enabled") enabled = tolower(v) }
		END { flush() }' "$f"
	done
}

# --- the base chroot -------------------------------------------------------
# base_tar RELEASE: prints the cached base tarball of RELEASE, making it first.
base_tar() {
	local rel=$1 tar=$WORK/base-$1.tar t
	if [ -s "$tar" ] && [ "${NL_CONTAINER_REBASE:-0}" != 1 ]; then
		echo "  .. base: reusing $tar (delete it or NL_CONTAINER_REBASE=1 to make it again)" >&2
		echo "$tar"
		return 0
	fi
	t=$SECONDS
	rm_root "$WORK/base.tmp" || return 1
	echo "  .. base: debootstrap --variant=minbase $rel (about 30 s)" >&2
	if ! debootstrap --variant=minbase "$rel" "$WORK/base.tmp" "$MIRROR" \
		> "$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log" | sed 's/^/       /' >&2
		return 1
	fi
	# What a Debian image leaves out: each stage gets this machine's apt
	# sources and resolver when it starts, not the ones of the day the base
	# was made.
	rm -f "$WORK/base.tmp/etc/apt/sources.list" "$WORK/base.tmp/etc/resolv.conf" \
		"$WORK/base.tmp"/var/cache/apt/archives/*.deb
	rm -rf "$WORK/base.tmp"/var/lib/apt/lists/*
	tar -C "$WORK/base.tmp" --numeric-owner -cf "$tar.tmp" . &&
		mv "$tar.tmp" "$tar" || return 1
	rm_root "$WORK/base.tmp"
	echo "  .. base: made $tar in $((SECONDS - t)) s" >&2
	echo "$tar"
}

# fresh_root DIR RELEASE: DIR becomes a fresh copy of the base of RELEASE,
# with this machine's apt sources for that release and its resolver.
fresh_root() {
	local dir=$1 rel=$2 tar
	tar=$(base_tar "$rel") || return 1
	rm_root "$dir" || return 1
	mkdir -p "$dir"
	tar -C "$dir" --numeric-owner -xpf "$tar" || return 1
	printf '%s\n' "${APT_ENTRIES[@]}" | awk -v r="$rel" '
		$2 == r || index($2, r "-") == 1 { print "deb " $0 }' \
		> "$dir/etc/apt/sources.list"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	cp /etc/hosts "$dir/etc/hosts"
}

# --- replaying instructions --------------------------------------------------
# abs_in WD PATH: PATH made absolute against the stage's WORKDIR.
abs_in() {
	case $2 in /*) echo "$2" ;; *) echo "${1%/}/$2" ;; esac
}

# do_copy STAGE_ROOT WD ARGS: COPY [--from=STAGE] SRC... DEST
do_copy() {
	local root=$1 wd=$2 from="" src_root=$ROOT dest s p target
	local -a words
	read -r -a words <<< "$3"
	case ${words[0]} in
	--from=*)
		from=${words[0]#--from=}
		words=("${words[@]:1}")
		src_root=${STAGE_ROOT_OF[$from]:-}
		[ -n "$src_root" ] || { echo "COPY --from=$from: no earlier stage of that name"; return 1; }
		;;
	--*) echo "COPY ${words[0]}: option not replayed by this test"; return 1 ;;
	\[*) echo "COPY [JSON form]: not replayed by this test"; return 1 ;;
	esac
	[ "${#words[@]}" -ge 2 ] || { echo "COPY needs a source and a destination"; return 1; }
	dest=$(abs_in "$wd" "${words[-1]}")
	unset 'words[-1]'
	for s in "${words[@]}"; do
		case $s in
		*[\*\?\[]* | *\$*) echo "COPY $s: wildcards and variables are not replayed"; return 1 ;;
		../* | */../* | .. | */..) echo "COPY $s: outside the build context"; return 1 ;;
		esac
		if [ -n "$from" ]; then p=$src_root/${s#/}; else p=$ROOT/$s; fi
		[ -e "$p" ] || { echo "COPY $s: no such file${from:+ in stage $from}"; return 1; }
		target=$root/${dest#/}
		if [ -d "$p" ]; then
			# a directory's contents go into DEST
			mkdir -p "$target" && cp -R --preserve=mode,timestamps "$p/." "$target/" || return 1
		elif [[ $dest == */ ]] || [ "${#words[@]}" -gt 1 ] || [ -d "$target" ]; then
			mkdir -p "$target" && cp --preserve=mode,timestamps "$p" "$target/" || return 1
		else
			mkdir -p "$(dirname "$target")" && cp --preserve=mode,timestamps "$p" "$target" || return 1
		fi
	done
}

# do_env ARGS: ENV K=V [K=V...] or ENV K V, into STAGE_ENV.
do_env() {
	local -a words
	local w
	case $1 in *\"* | *\'* | *\$*) echo "ENV $1: quotes and variables are not replayed"; return 1 ;; esac
	if [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
		read -r -a words <<< "$1"
		for w in "${words[@]}"; do
			[[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "ENV $w: not K=V"; return 1; }
			STAGE_ENV+=("$w")
		done
	else
		w=${1#*[[:space:]]}
		STAGE_ENV+=("${1%%[[:space:]]*}=${w#"${w%%[![:space:]]*}"}")
	fi
	# a later PATH replaces the default one: env takes the last of each name
}

# exec_form '["a", "b"]': ENTRYPOINT=(a b). JSON strings without escapes
# only; anything else returns 1.
exec_form() {
	local rest=$1 re_str='^[[:space:]]*"([^"\\]*)"[[:space:]]*(,|\])(.*)$'
	ENTRYPOINT=()
	[[ $rest =~ ^[[:space:]]*\[(.*)$ ]] || return 1
	rest=${BASH_REMATCH[1]}
	while [[ $rest =~ $re_str ]]; do
		ENTRYPOINT+=("${BASH_REMATCH[1]}")
		rest=${BASH_REMATCH[3]}
		if [ "${BASH_REMATCH[2]}" = "]" ]; then
			[[ $rest =~ ^[[:space:]]*$ ]] && [ "${#ENTRYPOINT[@]}" -gt 0 ]
			return
		fi
	done
	ENTRYPOINT=()
	return 1
}

# logged FILE CMD...: CMD with its output appended to FILE.
logged() { local f=$1; shift; "$@" >> "$f" 2>&1; }

short() { local s; s=$(tr -s ' \t' '  ' <<< "$1"); [ "${#s}" -le 72 ] && echo "$s" || echo "${s:0:69}..."; }

# --- main ------------------------------------------------------------------
echo "container: replaying $CF in debootstrap chroots"
parse_containerfile || die "$CF parses"
[ "${#KW[@]}" -gt 0 ] || die "$CF has instructions"

mapfile -t APT_ENTRIES < <(host_apt_entries)
declare -A STAGE_ROOT_OF=()
STAGE_ENV=()
STAGE=-1 STAGE_NAME="" WD=/ RELEASE="" FINAL_ROOT="" ENTRYPOINT=() ABORT=""
STAGE_T0=$SECONDS

end_stage() {
	[ "$STAGE" -ge 0 ] || return 0
	echo "  .. stage $STAGE_NAME: $((SECONDS - STAGE_T0)) s"
}

for i in "${!KW[@]}"; do
	kw=${KW[$i]} args=${ARGS[$i]} where="$CF:${LINE[$i]}"
	if [ "$kw" = FROM ]; then
		end_stage
		read -r -a w <<< "$args"
		STAGE=$((STAGE + 1)) STAGE_NAME=$STAGE WD=/ STAGE_ENV=() ENTRYPOINT=()
		if [ "${#w[@]}" -eq 3 ] && [ "${w[1],,}" = as ]; then
			STAGE_NAME=${w[2]}
		elif [ "${#w[@]}" -ne 1 ]; then
			ABORT="$where: FROM $args: only FROM IMAGE [AS NAME] is replayed"
			break
		fi
		if ! RELEASE=$(release_of "${w[0]}"); then
			ABORT="$where: FROM ${w[0]}: not a debian:<release> image"
			break
		fi
		MIRROR=$(printf '%s\n' "${APT_ENTRIES[@]}" | awk -v r="$RELEASE" '$2 == r { print $1; exit }')
		if [ -z "$MIRROR" ]; then
			ABORT="this machine's apt sources name a mirror for $RELEASE (FROM ${w[0]})"
			break
		fi
		echo "container: stage $STAGE_NAME: FROM ${w[0]} (Debian $RELEASE)"
		STAGE_T0=$SECONDS
		STAGE_ROOT=$RUN_DIR/$STAGE-$STAGE_NAME
		if ! ck "stage $STAGE_NAME: a fresh debootstrap chroot of $RELEASE" \
			fresh_root "$STAGE_ROOT" "$RELEASE"; then
			ABORT="stage $STAGE_NAME has no chroot"
			break
		fi
		STAGE_ROOT_OF[$STAGE]=$STAGE_ROOT
		STAGE_ROOT_OF[$STAGE_NAME]=$STAGE_ROOT
		FINAL_ROOT=$STAGE_ROOT
		continue
	fi
	if [ "$STAGE" -lt 0 ]; then
		ABORT="$where: $kw before the first FROM is not replayed"
		break
	fi
	log=$RUN_DIR/$STAGE-$STAGE_NAME.log
	case $kw in
	RUN)
		if [[ $args == \[* ]]; then
			ABORT="$where: RUN [JSON form] is not replayed"
			break
		fi
		echo "----- $where: RUN $args" >> "$log"
		if ! ck "stage $STAGE_NAME: RUN $(short "$args")" \
			logged "$log" in_root "$STAGE_ROOT" "$WD" /bin/sh -c "$args"; then
			tail -n 15 "$log" | sed 's/^/       /'
			ABORT="stage $STAGE_NAME stopped at $where"
			break
		fi
		;;
	COPY)
		if ! out=$(do_copy "$STAGE_ROOT" "$WD" "$args" 2>&1); then
			nl_fail "stage $STAGE_NAME: COPY $args"
			echo "       $out"
			ABORT="stage $STAGE_NAME stopped at $where"
			break
		fi
		nl_pass "stage $STAGE_NAME: COPY $args"
		;;
	WORKDIR)
		case $args in *\$* | *[[:space:]]*) ABORT="$where: WORKDIR $args: not replayed"; break ;; esac
		WD=$(abs_in "$WD" "$args")
		mkdir -p "$STAGE_ROOT/${WD#/}"
		;;
	ENV)
		if ! out=$(do_env "$args"); then
			ABORT="$where: $out"
			break
		fi
		do_env "$args"
		;;
	EXPOSE) ;; # nothing to replay: a port the runtime publishes
	ENTRYPOINT)
		if ! exec_form "$args"; then
			ABORT="$where: ENTRYPOINT $args: only the exec form [\"...\", ...] (no escapes) is replayed"
			break
		fi
		;;
	*)
		ABORT="$where: $kw is not replayed by this test (teach tests/deploy/containerfile.sh)"
		break
		;;
	esac
done
if [ -n "$ABORT" ]; then
	nl_fail "$ABORT"
	nl_summary "$SUITE"
	exit 1
fi
end_stage
ck "the Containerfile has a build stage and a final stage ($((STAGE + 1)) stages)" \
	test "$STAGE" -ge 1

# --- the final image -----------------------------------------------------------
echo "container: the final stage, as the DaemonSet runs it"
if ! ck "the final stage has an exec-form ENTRYPOINT (${ENTRYPOINT[*]:-none})" \
	test "${#ENTRYPOINT[@]}" -gt 0; then
	nl_summary "$SUITE"
	exit 1
fi
OUT=$RUN_DIR/final-checks
mkdir -p "$OUT"
BIN=${ENTRYPOINT[0]}

in_root "$FINAL_ROOT" "$WD" ldd "$BIN" > "$OUT/ldd.txt" 2>&1
missing=$(grep -E 'not found|not a dynamic' "$OUT/ldd.txt")
ck "every library of $BIN resolves in the final stage ($(grep -c '=> /' "$OUT/ldd.txt") found by ldd)" \
	test -z "$missing" -a -s "$OUT/ldd.txt" || sed 's/^/       /' <<< "${missing:-$(cat "$OUT/ldd.txt")}"

in_root "$FINAL_ROOT" "$WD" "${ENTRYPOINT[@]}" --version > "$OUT/version.txt" 2>&1
rc=$?
ver=$(grep -E '^numalens version [^[:space:]]+$' "$OUT/version.txt")
ck "${ENTRYPOINT[*]} --version exits 0 and names a version (${ver:-none}, exit $rc)" \
	test "$rc" -eq 0 -a -n "$ver" ||
	sed 's/^/       /' "$OUT/version.txt" | head -n 10

in_root "$FINAL_ROOT" "$WD" "${ENTRYPOINT[@]}" events --no-open > "$OUT/events.txt" 2>&1
rc=$?
rows=$(awk '/^NAME +GROUP/ { t = 1; next } t && NF >= 5 { n++ } END { print n + 0 }' "$OUT/events.txt")
ck "${ENTRYPOINT[*]} events --no-open exits 0 with the event table ($rows events, exit $rc)" \
	test "$rc" -eq 0 -a "$rows" -gt 0 || sed 's/^/       /' "$OUT/events.txt" | head -n 20

# The point of two stages: the final image must not carry the build stage's
# packages, and must get its libraries from its own RUN lines.
extra=$(chroot "$FINAL_ROOT" dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
	awk '$1 == "ii" && ($2 ~ /-dev(:|$)/ || $2 ~ /^(gcc|gcc-[0-9]+|cpp|make|protobuf-c-compiler)$/) { print $2 }' |
	paste -sd ' ')
ndeb=$(chroot "$FINAL_ROOT" dpkg-query -W -f='${db:Status-Abbrev}\n' 2>/dev/null | grep -c '^ii')
ck "the final stage has no compiler or -dev package (${ndeb} packages)${extra:+: $extra}" \
	test -z "$extra" -a "$ndeb" -gt 0
ck "the final stage has no build tree (/src, /tmp/build)" \
	test ! -e "$FINAL_ROOT/src" -a ! -e "$FINAL_ROOT/tmp/build"

echo "  .. container: $((SECONDS - T0)) s in all"
nl_summary "$SUITE"
