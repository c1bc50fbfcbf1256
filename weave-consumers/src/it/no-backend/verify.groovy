// weave-api alone: Weave.registry() fails with a message that says which artifacts to add.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}
def addArtifacts = { String message -> ['dev.weave:weave-ffm', 'dev.weave:weave-jnr', 'dev.weave:weave-jna'].every { message.contains(it) } }

def cp = run('none-cp')
assert cp.size() == 2 && cp[0] ==~ /java \d+ class path/ : cp
assert cp[1].startsWith('WeaveException: no usable weave backend') && addArtifacts(cp[1]) : cp

def mp = run('none-mp')
assert mp.size() == 2 && mp[0] ==~ /java \d+ module path \[dev.weave\]/ : mp
assert mp[1] == cp[1] : mp

def named = run('none-named')
assert named.size() == 2 : named
assert named[1].startsWith("WeaveException: no weave backend named 'jnr'") && addArtifacts(named[1]) : named
