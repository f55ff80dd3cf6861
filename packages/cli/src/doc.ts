// A program's man page and bash completion, made from the same tables as its
// --help (args.ts), so none of the three can say something the others do not.
import { HELP, type CommandDoc, type Flag, type Flags, type Program } from './args';

const shown = (flags: Flags): [string, Flag][] => Object.entries(flags).filter(([, f]) => !f.hidden);

/** Every option a user can give: the global ones with --help and --version, and each command's. */
export function optionsOf(p: Program): { command?: string; name: string; flag: Flag }[] {
  const out: { command?: string; name: string; flag: Flag }[] = shown({ ...p.global, ...HELP }).map(([name, flag]) => ({ name, flag }));
  for (const c of p.commands) for (const [name, flag] of shown({ ...c.flags, help: HELP['help']! })) out.push({ command: c.names[0]!, name, flag });
  return out;
}

// roff: a backslash is \e, and a line must not start with a control character.
const roff = (s: string) =>
  s
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
const dash = (s: string) => s.replace(/-/g, '\\-');

function optionItems(flags: Flags): string[] {
  return shown(flags).map(([name, f]) => {
    const forms = [...(f.short ? [`\\fB\\-${dash(f.short)}\\fR`] : []), `\\fB\\-\\-${dash(name)}\\fR${f.type === 'boolean' ? '' : ' \\fIvalue\\fR'}`].join(', ');
    const choices = f.choices ? ` (one of: ${f.choices.join(', ')})` : '';
    const def = f.default !== undefined && f.default !== false ? ` (default: ${String(f.default)})` : '';
    return `.TP\n${forms}\n${roff(f.describe + choices + def)}`;
  });
}

function commandItem(prog: string, c: CommandDoc): string {
  const aliases = c.names.length > 1 ? ` (also: ${c.names.slice(1).join(', ')})` : '';
  const opts = optionItems({ ...c.flags, help: HELP['help']! });
  return [`.SS "${c.names[0]} ${roff(c.args)}"`.replace(/ "$/, '"'), roff(c.summary + aliases) + '.', `.PP\nUsage: \\fB${prog} ${c.names[0]}\\fR [\\fIcommand options\\fR]${c.args ? ` ${roff(c.args)}` : ''}`, '.RS', ...opts, '.RE'].join('\n');
}

/** The man page, in roff with the man macros. `date` is the build's (YYYY-MM-DD), so a rebuild makes the same page. */
export function manPage(p: Program, version: string, date: string): string {
  const title = p.section === 8 ? 'System Administration' : 'User Commands';
  const out = [
    `.\\" Generated from ${p.name}'s option tables (packages/cli/scripts/gen-docs.mts): do not edit.`,
    `.TH ${p.name.toUpperCase()} ${p.section} "${date}" "runts ${version}" "${title}"`,
    '.SH NAME',
    `${p.name} \\- ${roff(p.summary)}`,
    '.SH SYNOPSIS',
    p.commands.length ? `.B ${p.name}\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]` : `.B ${p.name}\n[\\fIoptions\\fR]`,
    '.SH DESCRIPTION',
    p.description.map(roff).join('\n.PP\n'),
    p.commands.length ? '.SH GLOBAL OPTIONS' : '.SH OPTIONS',
    ...optionItems({ ...p.global, ...HELP }),
  ];
  if (p.commands.length) {
    out.push('.SH COMMANDS', ...p.commands.map((c) => commandItem(p.name, c)));
    out.push('.SS help', `Show the commands, or with a command's name its usage and options (as \\fB${p.name} \\fIcommand\\fB \\-\\-help\\fR does).`);
  }
  const others = [['runts', 8], ['runtsd', 8], ['runtsctl', 1]].filter(([n]) => n !== p.name);
  out.push('.SH SEE ALSO', others.map(([n, s]) => `.BR ${n} (${s})`).join(',\n'));
  return out.join('\n') + '\n';
}

const words = (xs: string[]) => xs.join(' ');
const longShort = (flags: [string, Flag][]) => flags.flatMap(([n, f]) => [`--${n}`, ...(f.short ? [`-${f.short}`] : [])]);

/** The option words that take a value; each with its choices (none: a file name). */
function valued(flags: [string, Flag][]): [string, string[]][] {
  return flags.filter(([, f]) => f.type !== 'boolean').map(([n, f]) => [[`--${n}`, ...(f.short ? [`-${f.short}`] : [])].join('|'), [...(f.choices ?? [])]]);
}

/** `case $prev`: the value of an option is one of its choices, or a file name. */
function valueCase(flags: [string, Flag][], indent: string): string[] {
  const v = valued(flags);
  if (!v.length) return [];
  return [
    `${indent}case $prev in`,
    ...v.map(([w, choices]) => `${indent}    ${w}) COMPREPLY=($(compgen ${choices.length ? `-W "${words(choices)}"` : '-f'} -- "$cur")); return ;;`),
    `${indent}esac`,
  ];
}

/** A bash completion script: commands, each one's options, and the values of options. */
export function bashCompletion(p: Program): string {
  const fn = `_${p.name.replace(/\W/g, '_')}`;
  const global = shown({ ...p.global, ...HELP });
  const lines = [
    `# bash completion for ${p.name}, generated from its option tables (packages/cli/scripts/gen-docs.mts): do not edit.`,
    `${fn}() {`,
    '    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i',
  ];
  if (!p.commands.length) {
    lines.push(...valueCase(global, '    '), `    COMPREPLY=($(compgen -W "${words(longShort(global))}" -- "$cur"))`, '}');
  } else {
    const globalValued = valued(global).map(([w]) => w);
    lines.push(
      // The command is the first word that is neither a global option nor its value.
      '    for ((i = 1; i < COMP_CWORD; i++)); do',
      '        case ${COMP_WORDS[i]} in',
      ...(globalValued.length ? [`            ${globalValued.join('|')}) ((i++)) ;;`] : []),
      '            -*) ;;',
      '            *) cmd=${COMP_WORDS[i]}; break ;;',
      '        esac',
      '    done',
      '    local opts valued= byid=',
      '    case $cmd in',
      "        '')",
      ...valueCase(global, '            '),
      `            [[ $cur == -* ]] && opts="${words(longShort(global))}" || opts="${words([...p.commands.flatMap((c) => c.names), 'help'])}" ;;`,
      `        help) COMPREPLY=($(compgen -W "${words(p.commands.flatMap((c) => c.names))}" -- "$cur")); return ;;`,
    );
    for (const c of p.commands) {
      const flags = shown({ ...c.flags, help: HELP['help']! });
      const vs = valued(flags).flatMap(([w]) => w.split('|'));
      const byId = p.listIds !== undefined && c.args.startsWith('<id>');
      lines.push(
        `        ${c.names.join('|')})`,
        ...valueCase(flags, '            '),
        `            opts="${words(longShort(flags))}"${vs.length ? ` valued="${words(vs)}"` : ''}${byId ? ' byid=1' : ''} ;;`,
      );
    }
    lines.push('    esac', '    if [[ -z $cmd || $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi');
    if (p.listIds !== undefined) {
      lines.push(
        // The first argument of a command that takes <id>: the ids the program lists, asked with the global options given.
        '    local n=0 j',
        '    for ((j = i + 1; j < COMP_CWORD; j++)); do',
        '        case ${COMP_WORDS[j]} in',
        '            -*) [[ " $valued " == *" ${COMP_WORDS[j]} "* ]] && ((j++)) ;;',
        '            *) ((n++)) ;;',
        '        esac',
        '    done',
        `    if [[ -n $byid && $n == 0 ]]; then COMPREPLY=($(compgen -W "$({ "\${COMP_WORDS[0]}" "\${COMP_WORDS[@]:1:i-1}" ${p.listIds}; } 2>/dev/null)" -- "$cur")); return; fi`,
      );
    }
    // Other arguments are file names (a bundle, a command), as readline's default.
    lines.push('    COMPREPLY=($(compgen -f -- "$cur"))', '}');
  }
  lines.push(`complete -F ${fn} ${p.name}`);
  return lines.join('\n') + '\n';
}
