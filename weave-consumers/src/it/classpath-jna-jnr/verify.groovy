// weave-jna and weave-jnr on the class path: -Dweave.backend picks jnr, or names the absent ffm.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}

def jnr = run('jnr-chosen')
assert jnr.size() == 5 && jnr[0] ==~ /java \d+ class path/ : jnr
assert jnr.drop(1) == ['backend jnr available', 'backend jna available', 'registry jnr', 'jnr ran [first 42, second 7]'] : jnr

def absent = run('ffm-absent')
assert absent.drop(1).take(2) == ['backend jnr available', 'backend jna available'] : absent
def message = absent[3]
assert message.startsWith("WeaveException: no weave backend named 'ffm'") : absent
assert message.contains('usable: jnr, jna') : absent
assert message.contains('dev.weave:weave-ffm') : absent
