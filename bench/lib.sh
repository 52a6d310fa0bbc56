# Shared by the bench/*.sh scripts (sourced; they define `log` and `die`).

# install_missing CMD:PACKAGE ...: installs, with apt-get, the Debian
# package of every command that is missing; as a non-root user, stops and
# says what to install.
install_missing() {
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
    done
    ((${#need[@]})) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        die "missing ${need[*]}; as root run: apt-get update && apt-get install -y ${need[*]} (or run this script as root once)"
    fi
    log "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
}
