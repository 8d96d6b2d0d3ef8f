/*
 * finreport's HermiT driver (generator/graph.py starts it): one long-lived JVM that loads and classifies the
 * ontology (TBox) once, then realises one partition (a company's individuals, without the TBox) per request.
 *
 * Protocol, on stdin and stdout; every request is a header line and a body of exactly <n> bytes:
 *
 *   TBOX <n>\n<N-Triples of the ontology>    first request, once
 *   PART <n>\n<N-Triples of the individuals> any number after it
 *
 * Each request is answered, in order, by lines of the HermiT command line's own format, then one END line:
 *
 *   SubClassOf( <sub> <super> )   the class hierarchy (answer to TBOX; a PART answered by a full reload has it too)
 *   Type( <individual> <class> )  each individual's most specific classes (answer to PART), none above another
 *   END ok | END inconsistent | END error <one-line reason>
 *
 * EOF on stdin ends the process. Nothing else is written to stdout (System.out goes to stderr).
 *
 * The answers are those of `org.semanticweb.HermiT.cli.CommandLine -c -I` on the ontology and the partition in one
 * file: the partition is parsed by the same Turtle parser (the ontology's typing triples put in front of it, so that
 * its triples are typed as they are in the combined file: the axioms are the same), its facts are clausified by
 * HermiT's own ABox-only clausifier and put beside the ontology's DL clauses, and the classification of the ontology
 * alone is kept. That is HermiT's own incremental ABox path (Reasoner.flush), which HermiT only refuses for
 * individuals it has not seen before; it is used when the ontology has no nominals, keys, rules, complex roles or
 * description graphs (a consistent ABox then changes no subsumption) and the partition holds only individual axioms
 * the clausifier takes. Anything else is reasoned by a full reload of ontology plus partition, as the command line
 * does. One difference, on purpose: HermiT's "direct" types sometimes keep a class above another type of the same
 * individual (which one depends on the order its tableau reads the model off in, so on hash orders); only the most
 * specific are written. The classes above them, and so every category, are the same.
 */

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.semanticweb.HermiT.Configuration;
import org.semanticweb.HermiT.Reasoner;
import org.semanticweb.HermiT.model.Atom;
import org.semanticweb.HermiT.model.DLOntology;
import org.semanticweb.HermiT.model.Individual;
import org.semanticweb.HermiT.structural.ReducedABoxOnlyClausification;
import org.semanticweb.HermiT.tableau.Tableau;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.io.StreamDocumentSource;
import org.semanticweb.owlapi.model.AxiomType;
import org.semanticweb.owlapi.model.MissingImportHandlingStrategy;
import org.semanticweb.owlapi.model.OWLAxiom;
import org.semanticweb.owlapi.model.OWLClass;
import org.semanticweb.owlapi.model.OWLIndividualAxiom;
import org.semanticweb.owlapi.model.OWLNamedIndividual;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyLoaderConfiguration;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.reasoner.InferenceType;
import org.semanticweb.owlapi.reasoner.Node;
import org.semanticweb.owlapi.reasoner.NodeSet;

import uk.ac.manchester.cs.owl.owlapi.turtle.parser.TurtleOntologyParser;

public final class PartitionReasoner {
    private static final String RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>";
    private static final String OWL_ONTOLOGY = "<http://www.w3.org/2002/07/owl#Ontology>";

    /** HermiT with the ontology's DL clauses and classification kept while partitions' facts come and go. */
    static final class Hermit extends Reasoner {
        private final DLOntology tbox;
        private final Tableau tboxTableau;

        Hermit(Configuration configuration, OWLOntology ontology) {
            super(configuration, ontology);
            tbox = m_dlOntology;
            tboxTableau = m_tableau;
        }

        /** The ontology's facts plus the partition's, in a new tableau; the class hierarchy stays. */
        void load(Set<Atom> positive, Set<Atom> negative, Set<Individual> named) {
            Set<Atom> positiveFacts = new HashSet<Atom>(tbox.getPositiveFacts());
            Set<Atom> negativeFacts = new HashSet<Atom>(tbox.getNegativeFacts());
            positiveFacts.addAll(positive);
            negativeFacts.addAll(negative);
            Set<Individual> individuals = new HashSet<Individual>(tbox.getAllIndividuals());
            individuals.addAll(named);
            for (Atom atom : positiveFacts)
                atom.getIndividuals(individuals);
            for (Atom atom : negativeFacts)
                atom.getIndividuals(individuals);
            m_dlOntology = new DLOntology(tbox.getOntologyIRI(), tbox.getDLClauses(), positiveFacts, negativeFacts,
                    tbox.getAllAtomicConcepts(), tbox.getAllAtomicObjectRoles(), tbox.getAllComplexObjectRoles(),
                    tbox.getAllAtomicDataRoles(), tbox.getAllUnknownDatatypeRestrictions(),
                    tbox.getDefinedDatatypeIRIs(), individuals, tbox.hasInverseRoles(), tbox.hasAtMostRestrictions(),
                    tbox.hasNominals(), tbox.hasDatatypes());
            m_tableau = new Tableau(m_interruptFlag, tboxTableau.getTableauMonitor(),
                    tboxTableau.getExistentialsExpansionStrategy(), m_configuration.useDisjunctionLearning,
                    m_dlOntology, null, m_configuration.parameters);
            m_instanceManager = null;
            m_isConsistent = null;
        }

        /** Back to the ontology alone (its own consistency was established when it was loaded). */
        void unload() {
            m_dlOntology = tbox;
            m_tableau = tboxTableau;
            m_instanceManager = null;
            m_isConsistent = Boolean.TRUE;
        }

        boolean canSwap() {
            return !tbox.hasNominals() && tbox.getAllDescriptionGraphs().isEmpty()
                    && tbox.getAllComplexObjectRoles().isEmpty();
        }

        DLOntology tbox() {
            return tbox;
        }
    }

    private final OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
    private final OWLOntologyLoaderConfiguration loading = new OWLOntologyLoaderConfiguration()
            .setMissingImportHandlingStrategy(MissingImportHandlingStrategy.SILENT);
    private final PrintWriter out;
    private OWLOntology tbox;
    private Hermit hermit;
    private byte[] declarations = new byte[0];
    private boolean swappable;

    PartitionReasoner(PrintWriter out) {
        this.out = out;
    }

    private OWLOntology parse(InputStream triples) throws Exception {
        OWLOntology ontology = manager.createOntology();
        try {
            new TurtleOntologyParser().parse(new StreamDocumentSource(triples), ontology, loading);
        } catch (Exception | Error e) {
            manager.removeOntology(ontology);
            throw e;
        }
        return ontology;
    }

    /** The ontology's typing triples (<iri> rdf:type <kind>): what the parser needs to type a partition's triples. */
    private static byte[] typingTriples(byte[] triples) {
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        for (String line : new String(triples, StandardCharsets.UTF_8).split("\n")) {
            String[] parts = line.trim().split(" ");
            if (parts.length == 4 && parts[0].startsWith("<") && parts[1].equals(RDF_TYPE)
                    && parts[2].startsWith("<") && !parts[2].equals(OWL_ONTOLOGY) && parts[3].equals(".")) {
                kept.writeBytes(line.trim().getBytes(StandardCharsets.UTF_8));
                kept.write('\n');
            }
        }
        return kept.toByteArray();
    }

    private static Configuration configuration() {
        return new Configuration();  // what the command line uses without options
    }

    String loadTBox(byte[] triples) throws Exception {
        tbox = parse(new ByteArrayInputStream(triples));
        declarations = typingTriples(triples);
        hermit = new Hermit(configuration(), tbox);
        if (!hermit.isConsistent())
            return "inconsistent";
        hermit.precomputeInferences(InferenceType.CLASS_HIERARCHY);
        hermit.dumpHierarchies(out, true, false, false, false);
        swappable = hermit.canSwap() && tbox.getAxioms(AxiomType.HAS_KEY).isEmpty()
                && tbox.getAxioms(AxiomType.SWRL_RULE).isEmpty();
        return "ok";
    }

    String realise(byte[] triples) throws Exception {
        if (hermit == null)
            throw new IllegalStateException("no ontology loaded (TBOX must come first)");
        InputStream typed = new SequenceInputStream(new ByteArrayInputStream(declarations),
                new ByteArrayInputStream(triples));
        OWLOntology part = parse(typed);
        try {
            List<OWLIndividualAxiom> facts = new ArrayList<OWLIndividualAxiom>();
            boolean incremental = swappable;
            for (OWLAxiom axiom : part.getLogicalAxioms()) {
                if (tbox.containsAxiom(axiom))
                    continue;
                if (axiom instanceof OWLIndividualAxiom)
                    facts.add((OWLIndividualAxiom) axiom);
                else
                    incremental = false;
            }
            Set<OWLNamedIndividual> individuals = new HashSet<OWLNamedIndividual>(tbox.getIndividualsInSignature());
            individuals.addAll(part.getIndividualsInSignature());
            if (incremental) {
                ReducedABoxOnlyClausification clausifier;
                clausifier = new ReducedABoxOnlyClausification(configuration(), manager.getOWLDataFactory(),
                        hermit.tbox().getAllAtomicConcepts(), hermit.tbox().getAllAtomicObjectRoles(),
                        hermit.tbox().getAllAtomicDataRoles());
                Set<Atom> positive = new HashSet<Atom>();
                Set<Atom> negative = new HashSet<Atom>();
                try {
                    for (OWLIndividualAxiom fact : facts) {
                        clausifier.clausify(fact);
                        positive.addAll(clausifier.getPositiveFacts());
                        negative.addAll(clausifier.getNegativeFacts());
                    }
                } catch (IllegalArgumentException e) {  // a fresh class or property, or a complex class assertion
                    incremental = false;
                }
                if (incremental) {
                    // the full clausification knows every individual of the signature, named in a fact or not
                    Set<Individual> named = new HashSet<Individual>();
                    for (OWLNamedIndividual individual : individuals)
                        named.add(Individual.create(individual.getIRI().toString()));
                    hermit.load(positive, negative, named);
                    try {
                        return types(hermit, individuals);
                    } finally {
                        hermit.unload();
                    }
                }
            }
            return reload(part, individuals);
        } finally {
            manager.removeOntology(part);
        }
    }

    /** The command line's way: ontology and partition in one ontology, a new reasoner, its hierarchy and types. */
    private String reload(OWLOntology part, Set<OWLNamedIndividual> individuals) throws Exception {
        OWLOntology combined = manager.createOntology();
        try {
            manager.addAxioms(combined, tbox.getAxioms());
            manager.addAxioms(combined, part.getAxioms());
            Reasoner full = new Reasoner(configuration(), combined);
            try {
                if (!full.isConsistent())
                    return "inconsistent";
                full.precomputeInferences(InferenceType.CLASS_HIERARCHY);
                full.dumpHierarchies(out, true, false, false, false);
                return types(full, combined.getIndividualsInSignature());
            } finally {
                full.dispose();
            }
        } finally {
            manager.removeOntology(combined);
        }
    }

    private String types(Reasoner reasoner, Set<OWLNamedIndividual> individuals) {
        if (!reasoner.isConsistent())
            return "inconsistent";
        reasoner.precomputeInferences(InferenceType.CLASS_HIERARCHY, InferenceType.CLASS_ASSERTIONS);
        StringBuilder lines = new StringBuilder();
        for (OWLNamedIndividual individual : individuals) {
            NodeSet<OWLClass> direct = reasoner.getTypes(individual, true);
            // HermiT's "direct" types can hold a class above another one (which one depends on the order its
            // tableau happened to read the model off in): only the most specific are written
            Set<OWLClass> above = new HashSet<OWLClass>();
            for (Node<OWLClass> node : direct)
                above.addAll(reasoner.getSuperClasses(node.getRepresentativeElement(), false).getFlattened());
            for (Node<OWLClass> node : direct)
                if (!above.contains(node.getRepresentativeElement()))
                    for (OWLClass cls : node.getEntities())
                        lines.append("Type( <").append(individual.toStringID()).append("> <").append(cls.toStringID())
                                .append("> )\n");
        }
        out.print(lines);
        return "ok";
    }

    private static String readLine(DataInputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != '\n') {
            if (b < 0) {
                if (line.size() == 0)
                    return null;
                throw new EOFException("input ended inside a header");
            }
            line.write(b);
        }
        return line.toString(StandardCharsets.US_ASCII);
    }

    private static String oneLine(Throwable e) {
        String message = e.getMessage() == null ? "" : ": " + e.getMessage();
        return (e.getClass().getSimpleName() + message).replaceAll("\\s+", " ");
    }

    public static void main(String[] args) throws Exception {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);  // nothing but answers on stdout
        PrintWriter out = new PrintWriter(new OutputStreamWriter(new BufferedOutputStream(protocol, 1 << 16),
                StandardCharsets.UTF_8), false);
        PartitionReasoner driver = new PartitionReasoner(out);
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        String header;
        while ((header = readLine(in)) != null) {
            String[] parts = header.trim().split(" ");
            if (parts.length != 2 || !(parts[0].equals("TBOX") || parts[0].equals("PART")))
                throw new IOException("unknown request: " + header);
            byte[] body = new byte[Integer.parseInt(parts[1])];
            in.readFully(body);
            String status;
            try {
                status = parts[0].equals("TBOX") ? driver.loadTBox(body) : driver.realise(body);
            } catch (Throwable e) {
                status = "error " + oneLine(e);
            }
            out.print("END " + status + "\n");
            out.flush();
        }
    }
}
