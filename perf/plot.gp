# SPDX-License-Identifier: MIT
# perf/plot.gp: the plots of perf/run (gnuplot 5, pngcairo terminal).
#
# perf/run writes the data files (DIR/plotdata/*.dat, whitespace-separated,
# one header line) and runs, for each layout and kind:
#   gnuplot -e "dir='DIR/plotdata'; out='DIR/KIND-LAYOUT.png'; kind='KIND'; \
#               layout='LAYOUT'; workloads='larson prodcons ...'; ncol=N; \
#               title='...'; threads='1 2 4'" perf/plot.gp
# kind:
#   throughput  tp_LAYOUT_WORKLOAD.dat: threads, then median Mops/s per
#               allocator; one line per allocator
#   rss         rss_LAYOUT_WORKLOAD.dat: allocator, then median resident MiB
#               per node at the largest thread count; clustered bars
#   remote      rf_LAYOUT_WORKLOAD.dat: threads, then nalloc's median remote
#               frees per node; clustered bars (rmax='m1 m2 ...': the
#               largest value of each workload, to pick the y tics and
#               label the panels where it is 0)
# One panel per workload, three panels a row.  Edit this file and run
# perf/run --replot --out DIR to redraw.

if (!exists("dir")) dir = 'perf/out/plotdata'
if (!exists("kind")) kind = 'throughput'
if (!exists("layout")) layout = 'one-node'
if (!exists("workloads")) workloads = 'larson prodcons cache-scratch xmalloc realloc-grow kvcache'
if (!exists("threads")) threads = '1 2'
if (!exists("out")) out = sprintf('%s-%s.png', kind, layout)
if (!exists("title")) title = kind . ' ' . layout
if (!exists("ncol")) ncol = 6
if (!exists("rmax")) rmax = ''     # remote: the largest value of each workload
if (!exists("names")) names = ''   # legend: the names of columns 2..ncol

nw = words(workloads)
pc = (nw < 3) ? nw : 3
pr = (nw + pc - 1) / pc

W = pc * 470
H = pr * 330 + 110
set terminal pngcairo size W, H font 'sans,9' noenhanced
set output out
set datafile missing 'NaN'
set grid ytics lc rgb '#d0d0d0'
set border 3
set tics nomirror
# allocators (columns 2.. of the throughput files, in perf/run's order:
# nalloc first) and nodes (columns 2.. of the bar files)
set linetype 1 lc rgb '#d62728' lw 2.5 pt 7 ps 0.9
set linetype 2 lc rgb '#555555' lw 1.5 pt 5 ps 0.8
set linetype 3 lc rgb '#1f77b4' lw 1.5 pt 9 ps 0.9
set linetype 4 lc rgb '#2ca02c' lw 1.5 pt 11 ps 0.9
set linetype 5 lc rgb '#ff7f0e' lw 1.5 pt 13 ps 0.9
set linetype 6 lc rgb '#9467bd' lw 1.5 pt 15 ps 0.9
set linetype 7 lc rgb '#8c564b' lw 1.5 pt 4 ps 0.9
set linetype 8 lc rgb '#17becf' lw 1.5 pt 6 ps 0.9
set linetype cycle 8
nodecolors = '#4e79a7 #f28e2b #59a14f #e15759 #76b7b2 #edc948 #b07aa1 #9c755f'
# panels placed by hand (in pixels converted to screen fractions): the
# page title, then one legend for all panels, then the grid of panels
top = 1 - 95.0 / H
pw = 1.0 / pc
ph = top / pr
set multiplot title title font 'sans,11'
unset key

nt = words(threads)
tmax = real(word(threads, nt))

do for [i = 1:nw] {
	w = word(workloads, i)
	set origin ((i - 1) % pc) * pw, top - ((i - 1) / pc + 1) * ph
	set size pw, ph
	set title w font 'sans,10'
	if (kind eq 'throughput') {
		f = sprintf('%s/tp_%s_%s.dat', dir, layout, w)
		set style data linespoints
		set xlabel 'threads'
		set ylabel 'Mops/s (higher is better)'
		if (tmax > 4) { set logscale x 2 } else { unset logscale x }
		set xrange [*:*]
		set offsets graph 0.05, graph 0.05, 0, 0
		set xtics ()
		do for [t in threads] { set xtics add (t real(t)) }
		set yrange [0:*]
		plot for [c = 2:ncol] f using 1:c title columnheader(c)
	}
	if (kind eq 'rss') {
		f = sprintf('%s/rss_%s_%s.dat', dir, layout, w)
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.85 border -1
		set boxwidth 0.9
		set offsets 0, 0, 0, 0
		unset logscale x
		set xtics () rotate by 0
		set xlabel 'allocator'
		set ylabel 'resident MiB (lower is better)'
		set yrange [0:*]
		plot for [c = 2:ncol] f using c:xtic(1) lw 1 lc rgb word(nodecolors, (c - 2) % 8 + 1) title columnheader(c)
	}
	if (kind eq 'remote') {
		f = sprintf('%s/rf_%s_%s.dat', dir, layout, w)
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.85 border -1
		set boxwidth 0.9
		set offsets 0, 0, 0, 0
		unset logscale x
		set xtics ()
		set xlabel 'threads'
		set ylabel 'remote frees (count)'
		set yrange [0:*]
		m = (words(rmax) >= i) ? real(word(rmax, i)) : 1e9
		set ytics autofreq
		set format y '%.1s%c'
		unset label 1
		if (m == 0) {
			set format y '%g'
			set label 1 'none: 0 on every node' at graph 0.5, 0.5 center font 'sans,10'
		}
		if (m > 0 && m < 10) {
			set format y '%g'
			set ytics 1
		}
		plot for [c = 2:ncol] f using c:xtic(1) lw 1 lc rgb word(nodecolors, (c - 2) % 8 + 1) title columnheader(c)
	}
}

# the legend: one entry per column, across the page under the title (a
# constant outside the y range: only its key entry shows)
if (words(names) > 0) {
	set origin 0, top
	set size 1, 45.0 / H
	set margins 0, 0, 0, 0
	unset border
	unset tics
	unset grid
	unset title
	unset xlabel
	unset ylabel
	unset label
	unset logscale x
	set xrange [0:1]
	set yrange [1:2]
	set key center center horizontal Left reverse font 'sans,9' samplen 3 width 3 maxrows 1
	if (kind eq 'throughput') {
		plot for [k = 1:words(names)] -1 with linespoints lt k title word(names, k)
	} else {
		plot for [k = 1:words(names)] -1 with boxes lw 1 \
			lc rgb word(nodecolors, (k - 1) % 8 + 1) fs solid 0.85 border -1 title word(names, k)
	}
}
unset multiplot
set output
