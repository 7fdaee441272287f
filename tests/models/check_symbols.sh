#!/bin/sh
# check_symbols.sh NM LIBRARY: fail if the models library needs any external
# symbol beyond libm and a few pure libc functions. This is how "models
# never allocate, print, read clocks, draw random numbers or read the
# environment" is enforced: such calls would show up as undefined symbols.
nm_tool=$1
lib=$2
allowed='^(acos|asin|atan|atan2|cbrt|ceil|cos|cosh|erf|erfc|exp|exp2|expm1|fabs|floor|fma|fmax|fmin|fmod|hypot|llround|log|log10|log1p|log2|lround|modf|nan|nextafter|pow|round|sin|sinh|sqrt|tan|tanh|trunc|memcmp|memcpy|memmove|memset|strcmp|strlen|strncmp)$'
# Undefined in some object of the archive and defined in none of them.
defined=$("$nm_tool" --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u)
undefined=$("$nm_tool" -u "$lib" | awk 'NF >= 2 && $1 == "U" { print $2 }' | sed 's/@.*//' |
    sort -u | grep -Fvx -e "$defined")
if [ -z "$undefined" ]; then
    echo "models_symbols: could not read undefined symbols of $lib" >&2
    exit 1
fi
# Sanitizer runtimes (FS_SANITIZE) and the stack protector add their own.
tooling='^(__(asan|ubsan|tsan|msan|sanitizer)_.*|__stack_chk_fail)$'
bad=$(printf '%s\n' "$undefined" | grep -Ev "$allowed" | grep -Ev "$tooling")
if [ -n "$bad" ]; then
    echo "models library uses forbidden symbols:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
echo "models library undefined symbols (all allowed):" $undefined
