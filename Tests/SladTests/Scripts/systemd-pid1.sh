#!/bin/bash
# Boots a real systemd as PID 1 over the machine's own files, for the end-to-end test.
# Run inside `unshare --pid --fork --kill-child=SIGKILL --mount --propagation private
# --uts --ipc --net --cgroup --mount-proc`; SCRATCH (not under /run) holds the overlays.
#
#   systemd-pid1.sh SCRATCH [KEEP...]
#
# KEEP: folders the test uses inside (the checkout, with its build): where one lives under
# /tmp, it is bound back into the machine's own fresh /tmp at the same path.
#
# /usr, /etc and /var become overlays whose upper layers live in SCRATCH, so `make
# install`, users, units and state written inside never reach the machine; /run and the
# journal are fresh tmpfs. systemd starts only slad-test.target (no default dependencies),
# which pulls in journald; the test adds slad through systemctl.
set -euo pipefail
scratch="$1"
shift
keep=("$@")
for d in usr etc var; do
    mkdir -p "$scratch/$d.upper" "$scratch/$d.work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d.upper,workdir=$scratch/$d.work" "/$d"
done
mount -t tmpfs -o mode=0755 tmpfs /run
# systemd-tmpfiles and friends would empty the machine's /tmp: give the test its own, with
# the kept folders that live under the old one bound back at their paths.
mkdir /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
for k in "${keep[@]}"; do
    case "$k" in
    /tmp/*)
        mkdir -p "$k"
        mount --bind "/run/host-tmp/${k#/tmp/}" "$k"
        ;;
    esac
done
umount -l /run/host-tmp
rmdir /run/host-tmp
mkdir -p /var/log/journal
mount -t tmpfs tmpfs /var/log/journal
# Units of a real boot that act on the whole machine (sysctl, udev, remounts, /tmp
# cleaning): masked, so that nothing pulls them in by accident. slad's units get
# DefaultDependencies=no from the test's drop-ins, which keeps sysinit.target out.
for u in sysinit.target basic.target systemd-sysctl.service systemd-udev-trigger.service \
    systemd-udevd.service systemd-remount-fs.service systemd-modules-load.service \
    systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount systemd-random-seed.service systemd-timesyncd.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done
# slad's units as installed, minus the ordering after a full boot (sysinit.target, basic.target).
for u in slad.service slad.socket; do
    mkdir -p "/etc/systemd/system/$u.d"
    printf '[Unit]\nDefaultDependencies=no\n' >"/etc/systemd/system/$u.d/10-no-boot.conf"
done
# The test target: journald and nothing else of the machine's boot.
cat >/etc/systemd/system/slad-test.target <<'UNIT'
[Unit]
Description=slad end-to-end test
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
UNIT
# systemd (seeing container=) leaves mount propagation alone; credentials are mounted in a
# child namespace and must propagate back, as on a booted machine. The peer groups made
# here are new ones, inside this namespace: nothing reaches the machine.
mount --make-rshared /
exec env -i container=slad-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=slad-test.target --log-target=journal-or-kmsg --show-status=no
