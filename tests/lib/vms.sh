# shellcheck shell=bash
#
# tests/lib/vms.sh: helpers to run small KVM/QEMU test VMs under libvirt, for
# the numalens demo, integration tests and benchmarks. Source it from bash:
#
#   . tests/lib/vms.sh
#   nl_need_pkgs qemu-system-x86 libvirt-daemon-system libvirt-clients
#   nl_libvirt_start
#   nl_vm_create t-mem build/guest/memburn.elf 'stride=64 size=200' 2 256 1
#   pid=$(nl_vm_qemu_pid t-mem)
#   nl_vm_destroy t-mem            # or: nl_vm_destroy_prefix t-
#
# Must run as root (apt-get, libvirtd, qemu:///system). The functions do not
# change the caller's shell options; errors are reported on stderr and as a
# non-zero return status.
#
# VMs are *transient* libvirt domains (virsh create): `virsh destroy` stops
# them and makes libvirt forget them, so there is nothing to undefine and
# nothing left behind if a test dies half-way (nl_vm_destroy_prefix still
# undefines persistent leftovers, in case someone defined one by hand).
#
# Environment knobs:
#   NL_VM_DIR      where kernels and serial logs go (default
#                  /var/lib/numalens-demo); the serial console of VM NAME is
#                  $NL_VM_DIR/NAME.log
#   NL_VIRT_TYPE   force the libvirt domain type: kvm or qemu (TCG);
#                  default: nl_vm_virt_type
#   NL_LIBVIRT_URI libvirt URI (default qemu:///system)
#
# Host facts this relies on (Debian 12, no systemd, cgroup v1 hybrid):
#   - libvirtd and virtlogd are started by hand (nl_libvirt_start); libvirtd
#     creates /run/libvirt itself. Without systemd/machined, libvirt's QEMU
#     driver places VMs with cgroupfs directly: no qemu.conf change is needed.
#   - libvirt passes `-name guest=NAME,debug-threads=on`, so QEMU names its
#     threads "CPU N/KVM" (or "CPU N/TCG"), "IO iothreadN", ...
#   - QEMU runs as libvirt-qemu:kvm; the DAC security driver chowns the
#     kernel and the serial log to that user while the VM runs and gives
#     them back afterwards. Kernels are copied to NL_VM_DIR (0755, files
#     0644) so that the source tree's permissions do not matter.

NL_VM_DIR=${NL_VM_DIR:-/var/lib/numalens-demo}
NL_LIBVIRT_URI=${NL_LIBVIRT_URI:-qemu:///system}

nl__err() {
	printf 'vms.sh: %s\n' "$*" >&2
}

# virsh without a controlling terminal: with one, virsh spawns pkttyagent,
# which prints "Authorization not available. Check if polkit service is
# running ..." on hosts without polkitd (root does not need it anyway).
nl__virsh() {
	setsid -w virsh -q -c "$NL_LIBVIRT_URI" "$@" </dev/null
}

# XML-escape a string for element text or attribute values.
nl__xml_escape() {
	local s=$1
	s=${s//&/&amp;}
	s=${s//</&lt;}
	s=${s//>/&gt;}
	s=${s//\"/&quot;}
	s=${s//\'/&apos;}
	printf '%s' "$s"
}

# nl_need_pkgs PKG...: install (apt-get, non-interactive) the packages that
# are not installed yet; runs `apt-get update` once first if any is missing.
nl_need_pkgs() {
	local p missing=()
	for p in "$@"; do
		if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
			missing+=("$p")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	printf 'vms.sh: installing %s\n' "${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
		{ nl__err "apt-get update failed"; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >&2 ||
		{ nl__err "apt-get install ${missing[*]} failed"; return 1; }
}

# nl_libvirt_start: start virtlogd and libvirtd (daemonized) unless already
# running, then wait (up to 30 s) until libvirt answers.
nl_libvirt_start() {
	local i
	nl_kvm_decide
	# The daemons outlive the caller: they must not inherit fd 9, the
	# libvirt test lock (tests hold it on fd 9), or they hold it forever
	# and every later test suite waits for it.
	if ! pgrep -x virtlogd >/dev/null; then
		virtlogd -d 9>&- || { nl__err "cannot start virtlogd"; return 1; }
	fi
	if ! pgrep -x libvirtd >/dev/null; then
		mkdir -p /var/log/libvirt
		# No syslog/journal here: send libvirtd's errors to a file.
		LIBVIRT_LOG_OUTPUTS="3:file:/var/log/libvirt/libvirtd.log" libvirtd -d 9>&- ||
			{ nl__err "cannot start libvirtd"; return 1; }
	fi
	for ((i = 0; i < 60; i++)); do
		if nl__virsh version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	nl__err "libvirtd does not answer on $NL_LIBVIRT_URI after 30 s" \
		"(see /var/log/libvirt/libvirtd.log; try running 'libvirtd' in the foreground)"
	return 1
}

# ---- KVM access, decided the way libvirt's QEMU will see it ----
#
# libvirt does not start QEMU as root: it runs it as the user and group of
# /etc/libvirt/qemu.conf (Debian's default: libvirt-qemu, primary group kvm)
# with that user's supplementary groups. Whether *root* can open /dev/kvm says
# nothing about that. On a machine where no udev ran (containers, CI
# sandboxes), /dev/kvm is still crw------- root:root and QEMU dies with
# "failed to initialize kvm: Permission denied". Debian's udev rule
# (KERNEL=="kvm", GROUP="kvm", MODE="0660") is what normally fixes that;
# nl_kvm_decide applies the same change, once, and says so.
#
#   NL_KVM_FIX=0   never change /dev/kvm: guests run under TCG instead
#   NL_VIRT_TYPE   kvm or qemu: skip the decision altogether

NL_QEMU_CONF=${NL_QEMU_CONF:-/etc/libvirt/qemu.conf}

# nl__qemu_conf_value KEY DEFAULT: the quoted value of an uncommented
# `KEY = "VALUE"` line in qemu.conf (the last one wins, as in libvirt's
# parser), else DEFAULT.
nl__qemu_conf_value() {
	local key=$1 def=$2 line val=
	if [ -r "$NL_QEMU_CONF" ]; then
		while IFS= read -r line; do
			if [[ $line =~ ^[[:space:]]*$key[[:space:]]*=[[:space:]]*\"([^\"]*)\" ]]; then
				val=${BASH_REMATCH[1]}
			fi
		done <"$NL_QEMU_CONF"
	fi
	printf '%s\n' "${val:-$def}"
}

# nl_kvm_qemu_user: "USER GROUP" libvirt runs QEMU as. qemu.conf's user and
# group accept a name, "+UID" or a number (a name first, then an id), as
# libvirt does; the group defaults to the user's primary group.
nl_kvm_qemu_user() {
	local user group
	user=$(nl__qemu_conf_value user libvirt-qemu)
	group=$(nl__qemu_conf_value group "")
	case $user in
	+*) user=${user#+} ;;
	esac
	if [ -z "$group" ]; then
		group=$(id -gn "$user" 2>/dev/null) || group=
	fi
	case $group in
	+*) group=${group#+} ;;
	esac
	printf '%s %s\n' "$user" "${group:-$user}"
}

# nl_kvm_user_can_open USER GROUP: does a process with USER's uid, GROUP's
# gid and USER's supplementary groups open /dev/kvm read-write?
nl_kvm_user_can_open() {
	local user=$1 group=$2
	[ -c /dev/kvm ] || return 1
	if [ "$(id -u)" -ne 0 ]; then
		[ "$(id -un)" = "$user" ] && (: <>/dev/kvm) 2>/dev/null
		return
	fi
	id "$user" >/dev/null 2>&1 || return 1
	setpriv --reuid="$user" --regid="$group" --init-groups \
		sh -c ': <>/dev/kvm' 2>/dev/null
}

# nl_kvm_decide: decide once, in the calling shell, which accelerator
# libvirt guests get, fixing /dev/kvm's group the way udev would when that is
# all that stands in the way. Sets and exports NL__VIRT_TYPE (kvm or qemu).
nl_kvm_decide() {
	local ug user group mode
	if [ -n "${NL_VIRT_TYPE:-}" ]; then
		NL__VIRT_TYPE=$NL_VIRT_TYPE
		export NL__VIRT_TYPE
		return 0
	fi
	[ -n "${NL__VIRT_TYPE:-}" ] && return 0
	NL__VIRT_TYPE=qemu
	export NL__VIRT_TYPE
	if [ ! -c /dev/kvm ]; then
		nl__err "no /dev/kvm on this machine: guests run under TCG (emulated, slow)"
		return 0
	fi
	ug=$(nl_kvm_qemu_user)
	user=${ug% *} group=${ug#* }
	if nl_kvm_user_can_open "$user" "$group"; then
		NL__VIRT_TYPE=kvm
		return 0
	fi
	mode=$(stat -c '%U:%G %a' /dev/kvm 2>/dev/null)
	if [ "${NL_KVM_FIX:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] &&
	   [ "$mode" = "root:root 600" ] && getent group kvm >/dev/null &&
	   chgrp kvm /dev/kvm && chmod 0660 /dev/kvm; then
		if nl_kvm_user_can_open "$user" "$group"; then
			nl__err "/dev/kvm was root:root 0600 (no udev rule ran here); made it root:kvm 0660 as Debian's udev rule does, so QEMU as $user can use KVM (NL_KVM_FIX=0 leaves it alone and uses TCG)"
			NL__VIRT_TYPE=kvm
			return 0
		fi
		nl__err "/dev/kvm is now root:kvm 0660, but QEMU's user $user (group $group) still cannot open it"
	fi
	nl__err "WARNING: QEMU as $user (group $group) cannot open /dev/kvm ($mode)$([ "${NL_KVM_FIX:-1}" = 0 ] && printf ' and NL_KVM_FIX=0 forbids changing it'): guests run under TCG (emulated, much slower). Fix: chgrp kvm /dev/kvm; chmod 0660 /dev/kvm"
	return 0
}

# nl_vm_virt_type: prints the libvirt domain type guests get: "kvm" or
# "qemu" (TCG). NL_VIRT_TYPE overrides; otherwise nl_kvm_decide decides
# (once per shell that calls nl_libvirt_start).
nl_vm_virt_type() {
	nl_kvm_decide
	printf '%s\n' "$NL__VIRT_TYPE"
}

# nl_root_kvm_usable: can this process (root, for plain QEMU started by the
# lab and perfstat) open /dev/kvm read-write? Those do not go through
# libvirt's user switch, so root's own access is the right question.
nl_root_kvm_usable() {
	[ -c /dev/kvm ] && (: <>/dev/kvm) 2>/dev/null
}

# nl_vm_create NAME KERNEL_ELF CMDLINE [VCPUS=2] [MEM_MIB=256] [IOTHREADS=1]
# Boots KERNEL_ELF (a multiboot ELF such as build/guest/memburn.elf) with
# CMDLINE as a transient libvirt domain NAME: no disk, no network, serial
# console to $NL_VM_DIR/NAME.log, powered-off/rebooted/crashed => gone.
nl_vm_create() {
	if [ $# -lt 3 ]; then
		nl__err "usage: nl_vm_create NAME KERNEL_ELF CMDLINE [VCPUS] [MEM_MIB] [IOTHREADS]"
		return 2
	fi
	local name=$1 kernel=$2 cmdline=$3 vcpus=${4:-2} mem=${5:-256} iothreads=${6:-1}
	local type tmp kcopy log rc=0
	if [ ! -f "$kernel" ]; then
		nl__err "kernel $kernel not found (build it with: make guests)"
		return 1
	fi
	type=$(nl_vm_virt_type)
	mkdir -p "$NL_VM_DIR" && chmod 0755 "$NL_VM_DIR" || return 1
	kcopy="$NL_VM_DIR/$name.elf"
	log="$NL_VM_DIR/$name.log"
	install -m 0644 "$kernel" "$kcopy" || return 1
	: >"$log" && chmod 0644 "$log" || return 1

	tmp=$(mktemp -d) || return 1
	cat >"$tmp/$name.xml" <<EOF
<domain type='$type'>
  <name>$(nl__xml_escape "$name")</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu placement='static'>$vcpus</vcpu>
  <iothreads>$iothreads</iothreads>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$(nl__xml_escape "$kcopy")</kernel>
    <cmdline>$(nl__xml_escape "$cmdline")</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$(nl__xml_escape "$log")'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	nl__virsh create "$tmp/$name.xml" >/dev/null || rc=$?
	rm -rf "$tmp"
	if [ "$rc" -ne 0 ]; then
		nl__err "virsh create $name failed (see /var/log/libvirt/qemu/$name.log)"
		return "$rc"
	fi
}

# nl_vm_destroy NAME: stop VM NAME (and undefine it if it was persistent).
# Errors (e.g. no such VM) are ignored.
nl_vm_destroy() {
	local name=$1
	nl__virsh destroy "$name" >/dev/null 2>&1 || true
	nl__virsh undefine "$name" >/dev/null 2>&1 || true
	rm -f "$NL_VM_DIR/$name.elf"
	return 0
}

# nl_vm_destroy_prefix PREFIX: nl_vm_destroy every domain (running or not)
# whose name starts with PREFIX.
nl_vm_destroy_prefix() {
	local prefix=$1 name
	[ -n "$prefix" ] || { nl__err "nl_vm_destroy_prefix: empty prefix"; return 2; }
	while IFS= read -r name; do
		case $name in
		"$prefix"*) nl_vm_destroy "$name" ;;
		esac
	done < <(nl__virsh list --all --name 2>/dev/null)
	return 0
}

# nl_vm_qemu_pid NAME: print the PID of VM NAME's QEMU process.
nl_vm_qemu_pid() {
	local name=$1 pid f arg
	pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
		printf '%s\n' "$pid"
		return 0
	fi
	# Fallback: find "-name guest=NAME,..." in a QEMU command line.
	for f in /proc/[0-9]*/cmdline; do
		while IFS= read -r -d '' arg; do
			case $arg in
			"guest=$name" | "guest=$name,"*)
				pid=${f#/proc/}
				printf '%s\n' "${pid%/cmdline}"
				return 0
				;;
			esac
		done 2>/dev/null <"$f" || true
	done
	nl__err "no QEMU process for VM $name"
	return 1
}
