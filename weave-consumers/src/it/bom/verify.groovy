// weave-bom imported: weave-ffm, weave-jnr and weave-tck taken without a version of their own (a
// version missing from the BOM fails the build before this runs), both backends at work.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}
def ran = ' ran [first 42, second 7]'

def bom = run('bom')
def java = (bom[0] =~ /^java (\d+) class path$/)[0][1] as int
if (java >= 22) {
  assert bom.drop(1) == ['backend ffm available', 'backend jnr available', 'registry ffm',
                         'ffm' + ran, 'ffm' + ran, 'jnr' + ran] : bom
} else {
  assert bom.drop(1) == ["backend ffm unavailable: needs Java 22 or newer (this is Java ${java})".toString(),
                         'backend jnr available', 'registry jnr', 'jnr' + ran, 'jnr' + ran] : bom
}

// The BOM lists every module of the weave reactor that is published (that does not set
// maven.deploy.skip), but for itself and the parent, and nothing else.
def slurp = { File file -> new groovy.xml.XmlSlurper().parse(file) }
def repository = new File(slurp(new File(basedir, 'pom.xml')).properties.'weave.repository'.text())
def published = slurp(new File(repository, 'pom.xml')).modules.module*.text().findAll { module ->
  module != 'weave-bom' && slurp(new File(repository, "${module}/pom.xml")).properties.'maven.deploy.skip'.text() != 'true'
}
def listed = slurp(new File(repository, 'weave-bom/pom.xml')).dependencyManagement.dependencies.dependency.collect {
  assert it.groupId.text() == 'dev.weave' && it.version.text() == '${project.version}' : it
  it.artifactId.text()
}
assert listed.sort() == published.sort() : "weave-bom lists ${listed}; the published modules are ${published}"
