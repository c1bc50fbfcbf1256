// weave-ffm alone on the class path, with --enable-native-access=ALL-UNNAMED.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}

def ffm = run('ffm-only')
assert ffm.size() == 4 && ffm[0] ==~ /java \d+ class path/ : ffm
assert ffm.drop(1) == ['backend ffm available', 'registry ffm', 'ffm ran [first 42, second 7]'] : ffm
