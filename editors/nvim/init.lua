require("reloadd").setup()
vim.o.statusline = "%<%f %h%m%r%=%{v:lua.require'reloadd'.statusline()}  %l,%c %P"
