#!/usr/bin/env bash
# Generates the package's documentation files from the binary and docs/, so
# they cannot drift from the code (issue 20). Called by the CMake target
# peerup_package_files (cmake/package.cmake):
#   package-files.sh <peerup binary> <output dir> <source dir> <version>
# Writes peerup.1.gz (help2man: `peerup --help`, then one section per command
# from `peerup completion commands` and `peerup <command> --help`),
# peerup-config.5.gz (pandoc: docs/config.md), peerup.bash and _peerup
# (`peerup completion bash|zsh`) and changelog.Debian.gz.
set -euo pipefail
bin=$1 out=$2 src=$3 version=$4
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# help2man runs the binary by name: give it a wrapper whose name is peerup.
mkdir "$work/bin"
ln -s "$(realpath "$bin")" "$work/bin/peerup"
export PATH="$work/bin:$PATH" HOME="$work"  # no user config is read for --help

# One roff section with every command's own help, in the tree's order.
{
  echo "[COMMANDS]"
  echo "Each command's options, as \\fBpeerup <command> --help\\fR prints them."
  while IFS= read -r cmd; do
    # shellcheck disable=SC2086  # the command path is words
    help=$(peerup $cmd --help)
    echo ".SS \"peerup $cmd\""
    echo ".nf"
    # roff: escape backslashes, protect lines that start with . or '
    printf '%s\n' "$help" | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    echo ".fi"
  done < <(peerup completion commands)
  echo "[FILES]"
  echo "The node's config.yaml, identity.key and authorized_keys, and the relay's relay.yaml:"
  echo "see \\fBpeerup-config\\fR(5)."
  echo "[SEE ALSO]"
  echo "\\fBpeerup-config\\fR(5), /usr/share/doc/peerup/"
} > "$work/commands.h2m"
help2man --no-info --section 1 --name "reach your own services behind CGNAT over libp2p" \
  --include "$work/commands.h2m" --output "$work/peerup.1" peerup
gzip -9n < "$work/peerup.1" > "$out/peerup.1.gz"

# peerup-config(5) from the reference in docs/, with a NAME section for man -k.
{
  printf -- '---\ntitle: PEERUP-CONFIG\nsection: 5\nheader: peer-up manual\nfooter: peerup %s\n---\n\n' "$version"
  printf '# NAME\n\npeerup-config - config.yaml, relay.yaml and authorized_keys of peer-up\n\n'
  printf '# DESCRIPTION\n\n'
  # The document's own title becomes the description; its sections follow.
  sed -e '1{/^# /d}' -e 's/^## /# /' -e 's/^### /## /' "$src/docs/config.md"
} > "$work/peerup-config.md"
pandoc --standalone --from markdown --to man "$work/peerup-config.md" -o "$work/peerup-config.5"
gzip -9n < "$work/peerup-config.5" > "$out/peerup-config.5.gz"

peerup completion bash > "$out/peerup.bash"
peerup completion zsh > "$out/_peerup"

# A native package's changelog: one entry for this version.
cat > "$work/changelog" <<CHANGELOG
peerup ($version-1) bookworm; urgency=medium

  * Built from the peer-up source tree by scripts/package.sh.

 -- peer-up maintainers <maintainers@peerup.invalid>  $(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}")
CHANGELOG
gzip -9n < "$work/changelog" > "$out/changelog.Debian.gz"
