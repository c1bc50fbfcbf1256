// A module that requires dev.weave, with the three backends on the module path: ffm, jnr and jna
// on Java 22+; on Java 17 ffm is listed as unusable, with its reason, and jnr is chosen.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}
def ran = ' ran [first 42, second 7]'

def modules = run('modules')
def java = (modules[0] =~ /^java (\d+) /)[0][1] as int
assert modules[0] == "java ${java} module path [dev.weave, dev.weave.ffm, dev.weave.jna, dev.weave.jnr]" : modules
if (java >= 22) {
  assert modules.drop(1) == ['backend ffm available', 'backend jnr available', 'backend jna available',
                             'registry ffm', 'ffm' + ran, 'ffm' + ran, 'jnr' + ran, 'jna' + ran] : modules
} else {
  def tooOld = "needs Java 22 or newer (this is Java ${java})"
  assert modules.drop(1) == ["backend ffm unavailable: ${tooOld}".toString(), 'backend jnr available', 'backend jna available',
                             'registry jnr', 'jnr' + ran, 'jnr' + ran, 'jna' + ran] : modules
}

def named = run('ffm-named')
if (java >= 22) {
  assert named.drop(4) == ['registry ffm', 'ffm' + ran] : named
} else {
  def message = named[4]
  assert message.startsWith("WeaveException: weave backend 'ffm' is unusable here: needs Java 22 or newer") : named
  assert message.contains('usable: jnr, jna') : named
}
