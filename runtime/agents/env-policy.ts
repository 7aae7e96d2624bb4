/**
 * Which environment variable names an agent may set (DESIGN §12.6, issue 16). A process agent's
 * environment is read by the dynamic loader, glibc, OpenSSL, ICU, libuv, c-ares and Node before
 * the first line of agent code runs — and so before Node's permission model exists. Any name that
 * one of them reads to load code, modules, locale data or config files can undo the sandbox
 * (measured: `OPENSSL_CONF` + `OPENSSL_MODULES` pointing into the agent's own folder makes Node
 * dlopen a `.so` at start-up). Names the daemon sets itself are refused too, so an agent cannot
 * shadow them. Process agents may later run other interpreters, so their code-loading variables
 * are refused as well.
 *
 * Every rule names the library that reads the variable and what it loads; docs/agent-env.md
 * lists the same table with the sources it was checked against (a unit test keeps them equal).
 * One table serves the manifest (`agent add`), `spawn --env` and remote spawns alike.
 */

export const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
export const MAX_ENV_NAME = 128;

export interface EnvRule {
  /** the variable's name, or a prefix when `prefix` is true */
  match: string;
  prefix: boolean;
  /** who reads it: "OpenSSL", "glibc (the dynamic loader ld.so)", … or DAEMON for names the daemon sets */
  library: string;
  /** completes "<library> reads it to …", or for DAEMON "the daemon sets it …" */
  reads: string;
}

const name = (match: string, library: string, reads: string): EnvRule => ({ match, prefix: false, library, reads });
const prefix = (match: string, library: string, reads: string): EnvRule => ({ match, prefix: true, library, reads });

/** rules for names the daemon sets itself: their reason says so instead of naming a reader */
export const DAEMON = 'the daemon';
const LOADER = 'glibc (the dynamic loader ld.so)';
const BEFORE = 'before the sandbox exists';

export const ENV_RULES: readonly EnvRule[] = [
  // Set by the daemon for every agent (runtime/agents/launch-spec.ts): an agent must not shadow them.
  name('PATH', DAEMON, 'to /usr/local/bin:/usr/bin:/bin, where executables are looked up'),
  name('HOME', DAEMON, "to the agent's own data folder, the one place it may write"),
  prefix('OPENSTARRY_', DAEMON, 'to tell the agent who it is and hand it its instance token'),
  name('LANG', 'glibc (locale)', 'choose the locale, whose name can be a path to locale files; the daemon sets LANG=C.UTF-8'),
  name('TZ', 'glibc and ICU', 'load a time-zone file, which TZ can name by path; the daemon passes its own TZ'),
  name('SHELL', 'programs that run commands (npm, make, editors)', 'choose the program that runs every command they start'),

  // The dynamic loader: sysdeps/generic/unsecvars.h, ld.so(8).
  name('LD_PRELOAD', LOADER, `load shared objects into every process ${BEFORE}`),
  name('LD_LIBRARY_PATH', LOADER, `search folders for shared objects, loading the first match ${BEFORE}`),
  name('LD_AUDIT', LOADER, `load auditing shared objects that see every symbol binding ${BEFORE}`),
  prefix('LD_', LOADER, 'change how shared objects are found, loaded and bound (LD_PRELOAD, LD_AUDIT, LD_DEBUG_OUTPUT, LD_PROFILE, …)'),

  // glibc proper: unsecvars.h, dl-tunables.list, locale(7), catopen(3), resolv.conf(5), getdate(3).
  name('GLIBC_TUNABLES', 'glibc (tunables)', 'tune the loader and malloc at start-up; a parser bug there gave root (CVE-2023-4911)'),
  name('MALLOC_TRACE', 'glibc (mtrace)', 'write a trace of every allocation to the file it names'),
  prefix('MALLOC_', 'glibc (malloc tunable aliases)', 'tune or check the allocator (MALLOC_CHECK_, MALLOC_PERTURB_, MALLOC_ARENA_MAX, …)'),
  name('GCONV_PATH', 'glibc (iconv)', 'load character-set converter modules (.so) from the folder it names'),
  name('GETCONF_DIR', 'glibc (getconf)', 'choose the folder of getconf helper programs it runs'),
  name('LOCPATH', 'glibc (locale)', 'load compiled locale files from the folder it names'),
  name('LANGUAGE', 'glibc (gettext)', 'choose message catalogs, whose names can be paths'),
  prefix('LC_', 'glibc (locale)', 'choose a locale per category (LC_ALL, LC_CTYPE, …), whose name can be a path to locale files'),
  name('NLSPATH', 'glibc (catopen)', 'load message catalogs from the paths it names'),
  name('TZDIR', 'glibc (time zones)', 'load time-zone files from the folder it names'),
  name('TMPDIR', 'glibc, libuv and Node (os.tmpdir)', 'choose where temporary files go; the agent has its own HOME for that'),
  name('HOSTALIASES', 'glibc (resolver)', 'load a host-alias file that redirects name lookups'),
  name('LOCALDOMAIN', "glibc's resolver and c-ares", 'override the search domains of every name lookup'),
  name('RES_OPTIONS', "glibc's resolver and c-ares", 'override resolver options (ndots, attempts, …) of every name lookup'),
  prefix('RESOLV_', 'glibc (resolver host.conf)', 'override resolver settings, and RESOLV_HOST_CONF loads the file it names'),
  prefix('NIS_', 'glibc (NIS+)', 'choose the NIS+ search path and defaults (NIS_PATH, NIS_DEFAULTS, NIS_GROUP)'),
  name('HESIOD_CONFIG', 'glibc (nss_hesiod)', 'load the Hesiod config file it names'),
  name('HES_DOMAIN', 'glibc (nss_hesiod)', 'choose the Hesiod domain that user and group lookups ask'),
  name('DATEMSK', 'glibc (getdate)', 'load the date-template file it names'),
  name('GMON_OUT_PREFIX', 'glibc (gprof)', 'choose the file that profiling output is written to'),

  // OpenSSL (bundled in Node): openssl-env(7), config(5), provider(7).
  name('OPENSSL_CONF', 'OpenSSL', `load a config file, which can load modules (.so) ${BEFORE}`),
  name('OPENSSL_CONF_INCLUDE', 'OpenSSL', `choose the folder of included config files, which can load modules (.so) ${BEFORE}`),
  name('OPENSSL_MODULES', 'OpenSSL', 'load providers (.so) from the folder it names'),
  name('OPENSSL_ENGINES', 'OpenSSL', 'load engines (.so) from the folder it names'),
  prefix('OPENSSL_', 'OpenSSL', 'change what it loads or how it runs (OPENSSL_TRACE, OPENSSL_armcap, OPENSSL_ia32cap, OPENSSL_MALLOC_FD, …)'),
  name('SSL_CERT_FILE', 'OpenSSL', 'load the trusted CA certificates, replacing the system ones'),
  name('SSL_CERT_DIR', 'OpenSSL', 'load the trusted CA certificates from the folder it names'),
  name('CTLOG_FILE', 'OpenSSL', 'load the certificate-transparency log list'),
  name('SSLKEYLOGFILE', 'OpenSSL (3.5+)', 'write TLS session secrets to the file it names'),
  name('QLOGDIR', 'OpenSSL (3.5+, QUIC)', 'write QUIC connection logs into the folder it names'),

  // ICU (bundled in Node): putil.cpp.
  prefix('ICU_', 'ICU', 'load locale and time-zone data files (ICU_DATA, ICU_TIMEZONE_FILES_DIR, …)'),

  // libuv (Node's event loop): docs/src/threadpool.rst, src/unix/linux.c, src/unix/core.c.
  prefix('UV_', 'libuv', 'size its thread pool or turn on io_uring, which libuv keeps off for a CVE (UV_THREADPOOL_SIZE, UV_USE_IO_URING)'),
  name('TMP', 'libuv and Node (os.tmpdir)', 'choose where temporary files go; the agent has its own HOME for that'),
  name('TEMP', 'libuv and Node (os.tmpdir)', 'choose where temporary files go; the agent has its own HOME for that'),
  name('TEMPDIR', 'libuv (uv_os_tmpdir)', 'choose where temporary files go; the agent has its own HOME for that'),

  // c-ares (Node's dns.resolve*): ares_addrinfo_localhost.c / ares__hosts_file.c.
  prefix('CARES_', 'c-ares', 'load a hosts file (CARES_HOSTS) that redirects name lookups'),

  // Node: doc/api/cli.md "Environment variables", src/node.cc, lib/internal/child_process.js.
  name('NODE_OPTIONS', 'Node', `take command-line flags (--require, --import, --allow-*, --openssl-config, V8 flags) ${BEFORE}`),
  name('NODE_PATH', 'Node', 'search extra folders for modules to load'),
  name('NODE_EXTRA_CA_CERTS', 'Node', 'load extra trusted CA certificates from the file it names'),
  name('NODE_ICU_DATA', 'Node', 'load ICU data from the file or folder it names'),
  name('NODE_REPL_EXTERNAL_MODULE', 'Node', 'load a module in place of the built-in REPL'),
  name('NODE_CHANNEL_FD', 'Node', 'open an IPC channel on the file descriptor it names'),
  name('NODE_V8_COVERAGE', 'Node', 'write coverage files into the folder it names'),
  name('NODE_REDIRECT_WARNINGS', 'Node', 'write warnings to the file it names'),
  prefix('NODE_', 'Node', 'change how it starts, loads modules and checks TLS (NODE_OPTIONS, NODE_PATH, NODE_TLS_REJECT_UNAUTHORIZED, NODE_REPL_HISTORY, …)'),

  // Interpreters a process agent might run later: their code-loading variables.
  prefix('PYTHON', 'Python', 'load modules or run code at start-up (PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONBREAKPOINT, …)'),
  prefix('PERL', 'Perl', 'load modules or take flags that run code (PERL5LIB, PERLLIB, PERL5OPT, PERL5DB, …)'),
  prefix('RUBY', 'Ruby', 'load libraries or take flags that run code (RUBYLIB, RUBYOPT, RUBYPATH, …)'),
  prefix('GEM_', 'RubyGems', 'load gems from the folders it names (GEM_HOME, GEM_PATH)'),
  name('DLN_LIBRARY_PATH', 'Ruby', 'search folders for extension libraries (.so)'),
  name('JAVA_TOOL_OPTIONS', 'the Java VM', 'take flags such as -javaagent that load code at start-up'),
  name('JDK_JAVA_OPTIONS', 'the java launcher', 'take flags such as -javaagent that load code at start-up'),
  name('CLASSPATH', 'the Java VM', 'search folders and jars for classes to load'),
  prefix('LUA_', 'Lua', 'load modules or run code at start-up (LUA_PATH, LUA_CPATH, LUA_INIT)'),
  name('TCLLIBPATH', 'Tcl', 'search folders for packages to load'),
  name('PHPRC', 'PHP', 'load the php.ini it names, which can load extensions (.so)'),
  name('PHP_INI_SCAN_DIR', 'PHP', 'load extra .ini files, which can load extensions (.so)'),
  name('BASH_ENV', 'bash', 'run the file it names before every non-interactive script'),
  name('ENV', 'sh (POSIX) and bash', 'run the file it names when an interactive shell starts'),
  prefix('BASH_', 'bash', 'import shell settings and functions'),
  name('SHELLOPTS', 'bash', 'turn on shell options (xtrace, …) in every script'),
  name('BASHOPTS', 'bash', 'turn on shell options in every script'),
  name('PS4', 'bash', 'expand a prompt, running its command substitutions, on every traced line'),
  name('IFS', 'sh (POSIX)', 'change how every script splits words'),
];

// Exact names win over prefixes (NODE_OPTIONS has its own reason), longer prefixes over shorter.
const EXACT = new Map(ENV_RULES.filter((r) => !r.prefix).map((r) => [r.match, r]));
const PREFIXES = ENV_RULES.filter((r) => r.prefix).sort((a, b) => b.match.length - a.match.length);

/** The rule that refuses `name`, or undefined when no library or the daemon claims it. */
export function envRuleFor(name: string): EnvRule | undefined {
  return EXACT.get(name) ?? PREFIXES.find((r) => name.startsWith(r.match));
}

/**
 * Why an env name is refused, naming the library that reads it, or undefined when it is allowed.
 * Callers prefix it with `env "<NAME>" refused: `.
 */
export function envNameRefusal(name: string): string | undefined {
  if (name.length > MAX_ENV_NAME) return `env names are at most ${MAX_ENV_NAME} characters`;
  if (!ENV_NAME.test(name)) return 'env names must match ^[A-Z][A-Z0-9_]*$';
  const rule = envRuleFor(name);
  if (!rule) return undefined;
  const what = rule.prefix ? `${rule.match}* variables` : 'it';
  if (rule.library === DAEMON) return `the daemon sets ${what} for every agent, ${rule.reads}`;
  return `${rule.library} reads ${what} to ${rule.reads}`;
}
