set laststatus=2 statusline=%<%f\ %h%m%r%=%{ReloaddStatusline()}\ \ %l,%c\ %P
