# zsh -f zsh-complete.zsh FPATH_DIR LINE: type LINE and two TABs into an
# interactive zsh with compinit and FPATH_DIR first in $fpath; print what
# the terminal shows.
zmodload zsh/zpty || exit 77
zpty z "zsh -f -i"
zpty -w z "PS1=''; PROMPT=''; RPROMPT=''"
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "bindkey '^I' complete-word; setopt nobeep"
zpty -w z "zstyle ':completion:*' format 'GROUP:%d'; zstyle ':completion:*:warnings' format 'NOMATCH:%d'"
zpty -w z "print -r -- XREADY\$((1+1))"
out=""
for i in {1..100}; do
	zpty -r -t z chunk && out+=$chunk || sleep 0.1
	[[ $out == *XREADY2* ]] && break
done
zpty -w -n z "$2"$'\t\t'
sleep 2
res=""
while zpty -r -t z chunk; do res+=$chunk; done
print -r -- "$res"
zpty -d z
