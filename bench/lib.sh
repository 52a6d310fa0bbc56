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

# make_cproj DIR: a small C project in DIR (60 files and a main, a Makefile
# with `clean` and `prog`): the monitor's file- and exec-heavy workload.
make_cproj() {
    local dir=$1 i
    mkdir -p "$dir"
    for i in $(seq 1 60); do
        cat >"$dir/f$i.c" <<C
#include <stdio.h>
#include <string.h>
int f$i(const char *s) { int n = 0; for (size_t k = 0; k < strlen(s); k++) n += s[k] * $i; return n; }
C
    done
    {
        echo '#include <stdio.h>'
        for i in $(seq 1 60); do echo "int f$i(const char *s);"; done
        echo 'int main(void) { int t = 0;'
        for i in $(seq 1 60); do echo "t += f$i(\"corral\");"; done
        echo 'printf("%d\n", t); return 0; }'
    } >"$dir/main.c"
    printf 'OBJS := $(patsubst %%.c,%%.o,$(wildcard *.c))\nprog: $(OBJS)\n\tcc -o $@ $^\n%%.o: %%.c\n\tcc -O1 -c -o $@ $<\nclean:\n\trm -f *.o prog\n' >"$dir/Makefile"
}
